import { budgetRules, SQL } from '../budget/dialect.js';
import type { TableNames } from './identifier.js';

/**
 * The one spelling of each budget rule in SQL, rendered from the rules written once over a
 * dialect (budget/dialect.ts), which renders the Redis admission script's rules too. The one-statement paths (sql/charges.ts,
 * sql/holds.ts, sql/statements.ts) inline these fragments; the engine functions (sql/functions/)
 * call the functions `rulesSql` renders from the very same fragments, which PostgreSQL inlines
 * where they are plain expressions. So the lean paths can never be looser than the engine, and a
 * test (test/sql/rules.test.ts) refuses a second spelling or a bare unit anywhere else.
 *
 * Every builder takes SQL expressions: a request's parameters, a row's columns, PL/pgSQL variables.
 */

const RULES = budgetRules(SQL);

/** The scope that grants every other. */
export const ADMIN_SCOPE = RULES.ADMIN_SCOPE;

/** A hold that still counts (until its expiry) or can still be closed. */
export const OPEN = `'open'`;

/** A row not revoked (`revokedAt` NULL) and not past its expiry (`expiresAt`, NULL: none) at `now`. */
export const live = RULES.live;

/** The budget period that reset at `resetAt` has elapsed at `now`. */
export const elapsed = RULES.elapsed;

/** Whole cents of `micros`, rounded up (bigint, unbounded). */
export const centsUp = RULES.centsUp;

/** Whole cents for 0.2.0's INTEGER column, rounded up, kept inside INTEGER. */
export const centsOf = RULES.centsOf;

/** A cap of `cents` whole cents, in micros. */
export const capMicros = RULES.capMicros;

/**
 * Micros stored for a counter row: `micros` (budget_used_micros) is exact; `cents`
 * (budget_used_cents) is 0.2.0's whole cents, rounded up, that users read and sometimes write by
 * hand. When the two disagree a person edited the cents, and the cents win.
 */
export const storedUsed = RULES.storedUsed;

/** Micros used this period: none once the period that reset at `resetAt` has elapsed at `now`. */
export const usedNow = RULES.usedNow;

/**
 * `need` more micros fit under a cap of `cap` cents (NULL: no cap) that `taken` micros (used plus
 * held) already use. A spent cap refuses even a free call, as validate does.
 */
export const capFits = RULES.capFits;

/** `total` micros (used plus held, after the change) stay within a cap of `cap` cents (NULL: no cap). */
export const capHolds = RULES.capHolds;

/** `scope` (NULL: none asked) is granted by `scopes` (NULL: unlimited): listed, or `admin` is. */
export const scopeOk = RULES.scopeOk;

/**
 * Micros of open holds that still count at `now` against the keys row `id` (a pool parent's
 * pooled children's included), leaving out the hold `except` if given (NULL: none). `holds` is
 * the holds table; its rows are aliased `oh`.
 */
export const heldSum = (holds: string, id: string, now: string, except?: string) =>
  `(SELECT COALESCE(sum(oh.amount_micros), 0) FROM ${holds} oh WHERE (oh.principal_id = ${id} OR oh.pool_id = ${id})
    AND oh.state = ${OPEN} AND oh.expires_at > ${now}${butNot(except)})::bigint`;

/**
 * Micros of the open holds of `account`'s keys: those still counting at `now`, or with no `now`
 * every open one (the upper bound the accounts row stores as held_micros).
 */
export const accountHeldSum = (holds: string, account: string, now?: string, except?: string) =>
  `(SELECT COALESCE(sum(oh.amount_micros), 0) FROM ${holds} oh WHERE oh.account_id = ${account} AND oh.state = ${OPEN}${
    now ? ` AND oh.expires_at > ${now}` : ''
  }${butNot(except)})::bigint`;

const butNot = (except?: string) => (except ? ` AND oh.id IS DISTINCT FROM ${except}` : '');

/**
 * Micros of open holds still counting at `now` against the keys row `id` whose `held_micros` is
 * `held`: what a new call cannot use. `held_micros` is kept under the row's lock as every hold
 * opens and closes (its pooled children's included), so it is exact but for holds past their TTL
 * that no call has swept yet: those stop counting here as they do in the engine. Unlike a sum of
 * the open holds, it already counts a hold this very statement opened or closed. Free when the
 * row has no holds.
 */
export const heldNow = (holds: string, id: string, held: string, now: string) =>
  `(CASE WHEN ${held} = 0 THEN 0::bigint ELSE GREATEST(${held} - (SELECT COALESCE(sum(oh.amount_micros), 0)
    FROM ${holds} oh WHERE (oh.principal_id = ${id} OR oh.pool_id = ${id}) AND oh.state = ${OPEN}
      AND oh.expires_at <= ${now}), 0)::bigint END)`;

/** `heldNow` of the keys row `row` (a table reference or a row variable). */
export const heldMicrosNow = (holds: string, row: string, now: string) =>
  heldNow(holds, `${row}.id`, `${row}.held_micros`, now);

/**
 * The same for an accounts row, whose `held_micros` (`held`) is only an upper bound (it keeps
 * holds swept since it was last re-summed): the open holds of its keys still counting at `now`.
 */
export const accountHeldNow = (holds: string, account: string, held: string, now: string) =>
  `(CASE WHEN ${held} = 0 THEN 0::bigint ELSE ${accountHeldSum(holds, account, now)} END)`;

/** `accountHeldNow` of the accounts row `row`. */
export const accountHeldMicrosNow = (holds: string, row: string, now: string) =>
  accountHeldNow(holds, `${row}.account_id`, `${row}.held_micros`, now);

/**
 * The rules as functions for the engine's PL/pgSQL (sql/functions/), named from the keys table.
 * The plain expressions are IMMUTABLE `LANGUAGE sql` functions that PostgreSQL inlines into the
 * calling expression; the sums over the holds table are STABLE PL/pgSQL, whose plan is cached
 * for the session.
 */
export function rulesSql(t: TableNames): string {
  const holds = t.derived('_holds');
  const pure = (name: string, args: string, returns: string, body: string) =>
    `CREATE OR REPLACE FUNCTION ${t.derived(name)}(${args}) RETURNS ${returns} LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $f$ SELECT ${body} $f$;`;
  const sum = (name: string, args: string, body: string) =>
    `CREATE OR REPLACE FUNCTION ${t.derived(name)}(${args}) RETURNS bigint LANGUAGE plpgsql STABLE
  AS $f$ BEGIN RETURN ${body}; END $f$;`;
  return `-- Budget rules (rendered from sql/rules.ts).
${pure('_stored_used', 'p_micros bigint, p_cents integer', 'bigint', storedUsed('p_micros', 'p_cents'))}
${pure('_used_now', 'p_micros bigint, p_cents integer, p_reset timestamptz, p_now timestamptz', 'bigint', usedNow('p_micros', 'p_cents', 'p_reset', 'p_now'))}
${pure('_cents_of', 'p_micros bigint', 'integer', centsOf('p_micros'))}
${pure('_cap_micros', 'p_cents integer', 'bigint', capMicros('p_cents'))}
${pure('_cap_fits', 'p_cap integer, p_taken bigint, p_need bigint', 'boolean', capFits('p_cap', 'p_taken', 'p_need'))}
${pure('_cap_holds', 'p_cap integer, p_total bigint', 'boolean', capHolds('p_cap', 'p_total'))}
${pure('_elapsed', 'p_reset timestamptz, p_now timestamptz', 'boolean', elapsed('p_reset', 'p_now'))}
${pure('_scope_ok', 'p_scope text, p_scopes text[]', 'boolean', scopeOk('p_scope', 'p_scopes'))}
${sum('_held_sum', 'p_id integer, p_now timestamptz, p_except bigint', heldSum(holds, 'p_id', 'p_now', 'p_except'))}
${sum('_held_now', 'p_id integer, p_held bigint, p_now timestamptz', heldNow(holds, 'p_id', 'p_held', 'p_now'))}
${sum('_account_held_sum', 'p_account text, p_now timestamptz, p_except bigint', accountHeldSum(holds, 'p_account', 'p_now', 'p_except'))}
${sum('_account_held_now', 'p_account text, p_held bigint, p_now timestamptz', accountHeldNow(holds, 'p_account', 'p_held', 'p_now'))}
${sum('_account_open_sum', 'p_account text', accountHeldSum(holds, 'p_account'))}`;
}
