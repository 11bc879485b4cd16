import type { Queryable, TableNames } from '@agentkey/core';
import type { KeyRing } from './secrets/keyring.js';
import type { AccessNames } from './sql/names.js';

/** What every store module needs: the pool, the validated names, the key ring and the clock. */
export interface AccessContext {
  pool: Queryable;
  tables: TableNames;
  names: AccessNames;
  ring: KeyRing;
  now: () => Date;
}
