import { rowSql } from './expressions.js';
import type { TableNames } from './identifier.js';
import { rateRulesSql } from './rate-rules.js';
import { renderFile } from './render.js';
import { claimsSql } from './requests.js';
import { rulesSql } from './rules.js';

/**
 * The budget engine's functions, named from the keys table so two deployments in one database
 * never share them. Their PL/pgSQL lives in sql/functions/*.sql, as written; only the validated
 * table names are substituted (sql/render.ts). The budget rules they call are rendered from
 * sql/rules.ts, the one source the one-statement paths inline as well.
 *
 * Why PL/pgSQL: holds, pooled children, account ceilings and idempotency each touch more than one
 * row. A single UPDATE whose WHERE reads another table is re-checked under concurrency against the
 * statement's old snapshot, which is how budgets get overspent. Inside a VOLATILE function every
 * statement takes a fresh snapshot, and rows are locked in one fixed order, so concurrent calls
 * serialise on exactly what they share and never deadlock. One call is one round trip and one
 * transaction. The order, as the functions take it:
 *
 * - charge: the idempotency claim (its primary key), the account's advisory lock (only while the
 *   key's ceiling flag is unknown), the pool parent row, the key row, then — only once every other
 *   check passed — the account row; holds are inserted or expired under those row locks.
 * - close_hold: the idempotency claim, the pool parent, the key, the account, then the hold row.
 * - void_request: the request's claim row (a tombstone insert), the idempotency claim, the claim
 *   row FOR UPDATE, the pool parent, the key, the account, then the hold row.
 * - set_account_budget: the account's advisory lock, the account's keys in id order, the account.
 * - the one-statement paths (sql/charges.ts, sql/holds.ts): the key row, then the account row or
 *   the hold; their batch forms skip locked rows (SKIP LOCKED), and their waiting forms (a busy
 *   row's lane) lock keys in id order, then accounts.
 */
const FILES = ['account.sql', 'spend.sql', 'charge.sql', 'close_hold.sql', 'void_request.sql'];

/** Every engine function, the type they return and the rules they call, for `t`. */
export function functionsSql(t: TableNames): string {
  const nextReset = rowSql('p_now', 'NULL').NEXT_RESET;
  return [
    renderFile('functions/engine_row.sql', t),
    rulesSql(t),
    rateRulesSql(t),
    // The same reset arithmetic as the request path's SQL and budget/period.ts (a test holds them equal).
    `CREATE OR REPLACE FUNCTION ${t.derived('_next_reset')}(budget_period text, p_now timestamptz, budget_reset_at timestamptz)
  RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $f$ SELECT ${nextReset} $f$;`,
    claimsSql(t),
    ...FILES.map((file) => renderFile(`functions/${file}`, t)),
  ].join('\n\n');
}
