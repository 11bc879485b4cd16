import type { KeyRow } from '../keys/key-row.js';

/** What the engine functions (sql/engine.ts) and the lean statements return. */
export interface EngineRow extends KeyRow {
  outcome: 'ok' | 'unknown' | 'revoked' | 'expired' | 'scope' | 'budget' | 'no_hold' | `hold_${string}`;
  cap?: 'key' | 'pool' | 'account' | null;
  hold_id?: string | number | null;
  charged_micros?: number;
  shortfall_micros?: number;
  replayed?: boolean;
  account_limit_cents?: number | null;
  account_used_micros?: number | null;
  account_reset_at?: number | null;
  /** The account's open holds still counting. */
  account_held_micros?: number | null;
  hold_amount_micros?: number | null;
  hold_expires_at?: number | null;
  /** The pool parent's next reset, for a refusal by the pool's cap. */
  pool_reset_at?: number | null;
}
