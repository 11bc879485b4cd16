import type { DescriptorCache } from './authorize/descriptor-cache.js';
import type { InDoubt } from './authorize/in-doubt.js';
import type { Queryable, Runner } from './db/queryable.js';
import type { adminStatements } from './sql/admin.js';
import type { Selector } from './sql/columns.js';
import type { TableNames } from './sql/identifier.js';
import type { Statements } from './sql/statements.js';

/** What the store's modules share: built once by `AgentKey`, never exported from the package. */
export interface StoreContext {
  readonly pool: Queryable;
  /** The request path: prepared statements where the client allows. */
  readonly hot: Runner;
  readonly tables: TableNames;
  readonly sql: Statements;
  readonly admin: ReturnType<typeof adminStatements>;
  readonly ledger: boolean;
  readonly now: () => Date;
  readonly descriptors: DescriptorCache;
  /** Every store call's deadline (ms): its answer comes by then, `unavailable` if need be. */
  readonly timeoutMs: number;
  /** Calls whose answer was lost, voided once the database answers (in-doubt.ts). */
  readonly inDoubt: InDoubt;
}

/** How a request names its row: a native key's hash or an external subject. */
export interface Lookup {
  by: Selector;
  value: string;
}

/** One charge or hold, its arguments checked (budget/charge.ts `chargeRequest`). */
export interface ChargeRequest {
  op: 'authorize' | 'track' | 'reserve';
  micros: number;
  holdMicros: number;
  holdTtlMs: number;
  scope: string | null;
  tokenGrants: boolean;
  /** The token's own expiry (ms), for external callers: past it, nothing is charged. */
  tokenExpiresMs: number | null;
  idem: string | null;
  /** JSON text for the ledger row. */
  meta: string | null;
  /** This call's request id: its statement claims it when it charges (sql/requests.ts). */
  rid: string;
  /** When the caller gets `unavailable` if the store has not answered (Date.now() ms). */
  deadlineAt: number;
}
