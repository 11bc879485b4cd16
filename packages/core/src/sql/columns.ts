import { type Statement, statement } from '../db/queryable.js';

/** The column a request names its row by: a native key's hash or an external subject. */
export type Selector = 'key_hash' | 'external_subject';

/** One named statement per selector, built once: the request path never rebuilds or hashes SQL. */
export function perSelector(sql: (by: Selector) => string): Record<Selector, Statement> {
  return { key_hash: statement(sql('key_hash')), external_subject: statement(sql('external_subject')) };
}

/** Timestamps travel as epoch milliseconds: no date formatting in PostgreSQL, no parsing in Node. */
export const ms = (expr: string) => `date_part('epoch', ${expr}) * 1000`;

/** What a passed charge or hold returns of its key: a live row (revoked_at is null). */
export const PASSED_COLUMNS = `id, account_id, user_id, name, scopes, budget_cents, budget_period, delegated_by, external_subject,
  ${ms('expires_at')} AS expires_at, budget_used_micros::float8 AS used_micros, ${ms('budget_reset_at')} AS budget_reset_at`;

/** The numbers of a passed charge, for a caller that already holds the row's descriptor. */
export const SLIM_COLUMNS = `id, budget_cents, ${ms('expires_at')} AS expires_at, budget_used_micros::float8 AS used_micros,
  ${ms('budget_reset_at')} AS budget_reset_at`;
