import { SQL } from '../budget/dialect.js';
import { rateRules } from '../budget/rate-model.js';
import type { TableNames } from './identifier.js';
import { engineNames } from './names.js';

const RATE = rateRules(SQL);

/**
 * The one spelling of the rate-limit rule in SQL, rendered from the rule written once over a
 * dialect (budget/rate-model.ts, which states it), as sql/rules.ts is for budgets: the engine
 * functions call the functions `rateRulesSql` renders from these builders, and the lean statements
 * use `rateFree` to leave every rate-limited row to the engine. The Redis admission script renders
 * the same rule into Lua (budget/lua-rules.ts).
 */

/** The window that started at `at` has elapsed at `now` (or none started). */
export const rateFresh = RATE.fresh;

/** When the window a call at `now` falls in started. */
export const rateStart = RATE.start;

/** A window counter (`count` or `micros`) as a call at `now` sees it: 0 in a fresh window. */
export const rateNow = RATE.current;

/** Why a call needing `need` micros is refused (`requests` | `cents`), or NULL when it fits. */
export const rateRefusal = RATE.refusal;

/** What is left in the window for a call at `now`, of `kind` (never below 0). */
export const rateRemaining = RATE.remaining;

/** The kind a row's numbers are reported in when nothing refused: calls when it limits them. */
export const rateKind = RATE.kind;

/** Whole seconds, at least 1, until the window a call at `now` falls in resets. */
export const rateResetSec = RATE.resetSec;

/**
 * The lean statements' guard over the keys row `row` (a table name or alias): neither the row nor
 * its account has a rate limit, so no window needs counting. Read from the statement's snapshot
 * for the account: a limit set while the statement runs applies from the next statement on.
 */
export const rateFree = (accounts: string, row: string) =>
  `(${row}.rate_window_sec IS NULL AND NOT EXISTS (SELECT 1 FROM ${accounts} ra
    WHERE ra.account_id = ${row}.account_id AND ra.rate_window_sec IS NOT NULL))`;

/** The rule as functions for the engine's PL/pgSQL, inlined where PostgreSQL can. */
export function rateRulesSql(t: TableNames): string {
  const e = engineNames(t);
  const pure = (name: string, args: string, returns: string, body: string) =>
    `CREATE OR REPLACE FUNCTION ${t.derived(name)}(${args}) RETURNS ${returns} LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $f$ SELECT ${body} $f$;`;
  const win = 'p_at timestamptz, p_sec integer, p_now timestamptz';
  const state = 'p_requests integer, p_cents integer, p_count integer, p_micros bigint';
  // An admitted call counted in the window of the row `where` picks out of `table`, and a
  // settled or released hold's correction (`p_delta` = charged − held, for a hold made at p_since).
  const take = (
    name: string,
    table: string,
    key: string,
  ) => `CREATE OR REPLACE FUNCTION ${t.derived(name)}(p_key ${key},
  p_now timestamptz, p_need bigint) RETURNS TABLE (at timestamptz, count integer, micros bigint) LANGUAGE sql AS $f$
  UPDATE ${table} SET rate_window_at = ${rateStart('rate_window_at', 'rate_window_sec', 'p_now')},
    rate_count = ${RATE.countAfter('rate_count', 'rate_window_at', 'rate_window_sec', 'p_now')},
    rate_micros = ${RATE.microsAfter('rate_micros', 'rate_window_at', 'rate_window_sec', 'p_now', 'p_need')}
  WHERE ${key === 'integer' ? 'id' : 'account_id'} = p_key AND rate_window_sec IS NOT NULL
  RETURNING rate_window_at, rate_count, rate_micros $f$;`;
  const give = (
    name: string,
    table: string,
    key: string,
  ) => `CREATE OR REPLACE FUNCTION ${t.derived(name)}(p_key ${key},
  p_now timestamptz, p_since timestamptz, p_delta bigint) RETURNS void LANGUAGE sql AS $f$
  UPDATE ${table} SET rate_micros = GREATEST(rate_micros + p_delta, 0)
  WHERE ${key === 'integer' ? 'id' : 'account_id'} = p_key AND rate_window_sec IS NOT NULL AND p_delta <> 0
    AND p_since >= rate_window_at AND NOT ${rateFresh('rate_window_at', 'rate_window_sec', 'p_now')} $f$;`;
  return `-- Rate-limit rules (rendered from sql/rate-rules.ts).
${pure('_rate_start', win, 'timestamptz', rateStart('p_at', 'p_sec', 'p_now'))}
${pure('_rate_now', `p_value bigint, ${win}`, 'bigint', rateNow('p_value', 'p_at', 'p_sec', 'p_now'))}
${pure('_rate_reset_sec', win, 'float8', rateResetSec('p_at', 'p_sec', 'p_now'))}
${pure(
  '_rate_refusal',
  'p_requests integer, p_cents integer, p_sec integer, p_at timestamptz, p_count integer, p_micros bigint, p_now timestamptz, p_need bigint',
  'text',
  rateRefusal('p_requests', 'p_cents', 'p_sec', 'p_at', 'p_count', 'p_micros', 'p_now', 'p_need'),
)}
${pure('_rate_remaining', `p_kind text, ${state}, ${win}`, 'float8', rateRemaining('p_kind', 'p_requests', 'p_cents', 'p_count', 'p_micros', 'p_at', 'p_sec', 'p_now'))}
${pure('_rate_kind', 'p_requests integer', 'text', rateKind('p_requests'))}
${take('_rate_take_key', t.keys, 'integer')}
${take('_rate_take_account', e.accounts, 'text')}
${give('_rate_give_key', t.keys, 'integer')}
${give('_rate_give_account', e.accounts, 'text')}
-- A named limiter's call (the /signup limiter): counts one call in bucket p_bucket unless its
-- window already admitted p_max; returns whether it did, and the seconds until the window resets.
-- The row is locked for the decision, so every process shares one count. Expired windows are
-- pruned a few at a time whenever a bucket opens. A call that found its bucket and then waited for
-- its lock may find it pruned meanwhile (it had expired): it goes back to the INSERT, so every
-- call it admits is counted on a row.
CREATE OR REPLACE FUNCTION ${t.derived('_rate_hit')}(p_bucket text, p_now timestamptz, p_max integer, p_sec integer,
  OUT ok boolean, OUT reset_sec float8) LANGUAGE plpgsql AS $f$
DECLARE w ${e.rateWindows}%ROWTYPE;
BEGIN
  LOOP
    INSERT INTO ${e.rateWindows} (bucket, window_at, count, expires_at)
      VALUES (p_bucket, p_now, 0, p_now + make_interval(secs => p_sec)) ON CONFLICT (bucket) DO NOTHING;
    IF FOUND THEN
      DELETE FROM ${e.rateWindows} WHERE bucket IN (SELECT x.bucket FROM ${e.rateWindows} x
        WHERE x.expires_at < p_now AND x.bucket <> p_bucket LIMIT 20 FOR UPDATE SKIP LOCKED);
    END IF;
    SELECT * INTO w FROM ${e.rateWindows} x WHERE x.bucket = p_bucket FOR UPDATE;
    EXIT WHEN FOUND;
  END LOOP;
  ok := ${t.derived('_rate_refusal')}(p_max, NULL, p_sec, w.window_at, w.count, 0, p_now, 0) IS NULL;
  IF ok THEN
    UPDATE ${e.rateWindows} SET window_at = ${t.derived('_rate_start')}(w.window_at, p_sec, p_now),
        count = ${t.derived('_rate_now')}(w.count, w.window_at, p_sec, p_now) + 1,
        expires_at = ${t.derived('_rate_start')}(w.window_at, p_sec, p_now) + make_interval(secs => p_sec)
      WHERE bucket = p_bucket RETURNING window_at INTO w.window_at;
  END IF;
  reset_sec := ${t.derived('_rate_reset_sec')}(w.window_at, p_sec, p_now);
END $f$;`;
}
