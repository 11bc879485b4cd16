import type { TableNames } from './identifier.js';
import { engineNames } from './names.js';
import { capMicros } from './rules.js';

/**
 * The one spelling of the rate-limit rule in SQL, as sql/rules.ts is for budgets: the engine
 * functions call the functions `rateRulesSql` renders from these builders, and the lean statements
 * use `rateFree` to leave every rate-limited row to the engine. A Redis script mirrors exactly
 * this arithmetic (README, "Rate limits").
 *
 * The rule: a FIXED WINDOW THAT STARTS AT THE FIRST CALL IT ADMITS. A limited row stores
 *   rate_requests (calls per window, NULL: none), rate_cents (cents per window, NULL: none),
 *   rate_window_sec (the window; NULL: no limit at all), and the window's state:
 *   rate_window_at (its start, NULL: none yet), rate_count (calls admitted in it),
 *   rate_micros (micros charged or held in it).
 * A call at `now` that needs `need` micros (its cost plus its hold) sees the window as
 *   fresh  = at IS NULL OR now - at >= window
 *   count' = fresh ? 0 : count,  micros' = fresh ? 0 : micros,  start = fresh ? now : at
 * and is refused, `rate_limited`, when
 *   requests IS NOT NULL AND count' + 1 > requests      (kind `requests`), else
 *   cents IS NOT NULL AND micros' + need > cents × unit  (kind `cents`).
 * An admitted call writes at = start, count = count' + 1, micros = micros' + need; a refused call
 * writes nothing (refusals never consume the limit), nor does an idempotent replay. A hold counts
 * its whole amount when reserved; its settle or release moves micros by (charged − amount) while
 * the window it was reserved in is still the current one (never below 0), and counts no call.
 * Retry after = max(1, ceil(window − (now − start))) seconds, the window's reset.
 *
 * Why a fixed window: its decision is a pure function of one row, read and written under that
 * row's lock in the statement that charges (the engine locks the key row, then the account row),
 * so N processes admit exactly `requests` per window between them, deterministically — the
 * property "4 processes × 100 calls against 50/min admit exactly 50" rests on. GCRA with burst =
 * limit would be as exact but admits a trickle within the minute (one call per window/limit), so
 * the count would depend on timing. A window anchored at its first call, not at the clock's
 * minute, never lets a burst straddle a boundary twice in a row.
 */

/** The window of `sec` seconds (an SQL number) as an interval. */
const span = (sec: string) => `make_interval(secs => ${sec})`;

/** The window that started at `at` has elapsed at `now` (or none started). */
export const rateFresh = (at: string, sec: string, now: string) =>
  `(${at} IS NULL OR ${now} - ${at} >= ${span(sec)})`;

/** When the window a call at `now` falls in started. */
export const rateStart = (at: string, sec: string, now: string) =>
  `(CASE WHEN ${rateFresh(at, sec, now)} THEN ${now} ELSE ${at} END)`;

/** A window counter (`count` or `micros`) as a call at `now` sees it: 0 in a fresh window. */
export const rateNow = (value: string, at: string, sec: string, now: string) =>
  `(CASE WHEN ${rateFresh(at, sec, now)} THEN 0 ELSE ${value} END)`;

/** Why a call needing `need` micros is refused (`requests` | `cents`), or NULL when it fits. */
export const rateRefusal = (
  requests: string,
  cents: string,
  sec: string,
  at: string,
  count: string,
  micros: string,
  now: string,
  need: string,
) => `(CASE WHEN ${sec} IS NULL THEN NULL
    WHEN ${requests} IS NOT NULL AND ${rateNow(count, at, sec, now)} + 1 > ${requests} THEN 'requests'
    WHEN ${cents} IS NOT NULL AND ${rateNow(micros, at, sec, now)} + ${need} > ${capMicros(cents)} THEN 'cents'
  END)`;

/**
 * What is left in the window for a call at `now`, of `kind`: calls for `requests`, micros for
 * `cents` (never below 0).
 */
export const rateRemaining = (
  kind: string,
  requests: string,
  cents: string,
  count: string,
  micros: string,
  at: string,
  sec: string,
  now: string,
) => `(CASE WHEN ${kind} = 'requests' THEN GREATEST(${requests} - ${rateNow(count, at, sec, now)}, 0)
    ELSE GREATEST(${capMicros(cents)} - ${rateNow(micros, at, sec, now)}, 0) END)::float8`;

/** The kind a row's numbers are reported in when nothing refused: calls when it limits them. */
export const rateKind = (requests: string) =>
  `(CASE WHEN ${requests} IS NOT NULL THEN 'requests' ELSE 'cents' END)`;

/** Whole seconds, at least 1, until the window a call at `now` falls in resets. */
export const rateResetSec = (at: string, sec: string, now: string) =>
  `GREATEST(1, LEAST(${sec}, ceil(${sec} - extract(epoch FROM (${now} - ${rateStart(at, sec, now)})))))::float8`;

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
    rate_count = ${rateNow('rate_count', 'rate_window_at', 'rate_window_sec', 'p_now')} + 1,
    rate_micros = ${rateNow('rate_micros', 'rate_window_at', 'rate_window_sec', 'p_now')} + p_need
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
