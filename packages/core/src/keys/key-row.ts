/**
 * The descriptive fields of a row: what a principal shows, never what a decision rests on. The one
 * list the descriptor cache keeps (authorize/descriptor-cache.ts), a charges batch leaves out for a
 * call whose descriptor is cached (sql/charges.ts), and a Redis mirror's refusal reports.
 */
export const DESCRIPTIVE_FIELDS = [
  'account_id',
  'user_id',
  'name',
  'scopes',
  'budget_period',
  'delegated_by',
  'external_subject',
] as const satisfies ReadonlyArray<keyof KeyRow>;

/** A keys-table row as the statements in `sql/statements.ts` return it; times in epoch ms. */
export interface KeyRow {
  id: number;
  account_id: string | null;
  user_id: string | null;
  name: string | null;
  scopes: string[] | null;
  budget_cents: number | null;
  budget_period: string | null;
  expires_at: number | null;
  delegated_by: string | null;
  revoked_at: number | null;
  external_subject: string | null;
  /** Admin reads only. */
  key_prefix?: string;
  pool_parent_id?: number | null;
  created_at?: number | null;
  last_used_at?: number | null;
  used_micros: number;
  /** Open holds still counting (1e-4 ¢ units): what a new call cannot use. */
  held_micros: number;
  budget_reset_at: number | null;
  /**
   * A pooled key's pool root, as of now (validate's and admin reads join it, the engine returns
   * it; all null when the key has no pool parent or its root is gone). Its used is for its current
   * period and counts every child's spend; its held counts every child's open holds.
   */
  pool_id?: number | null;
  pool_revoked_at?: number | null;
  pool_expires_at?: number | null;
  pool_budget_cents?: number | null;
  pool_used_micros?: number | null;
  pool_held_micros?: number | null;
  /** Admin reads only: the rate limit's columns. */
  rate_requests?: number | null;
  rate_cents?: number | null;
  rate_window_sec?: number | null;
}
