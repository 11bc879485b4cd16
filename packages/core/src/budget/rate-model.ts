import { budgetRules, type Dialect } from './dialect.js';

/**
 * The rate-limit rule, once, over a dialect (budget/dialect.ts): `SQL` renders it into the engine
 * functions (sql/rate-rules.ts), `LUA` into the Redis admission script (budget/lua-rules.ts), so
 * the two can never disagree. Timestamps are SQL timestamptz or Lua epoch ms; windows are seconds.
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
export function rateRules(d: Dialect) {
  const { capMicros } = budgetRules(d);
  const REQUESTS = d.text('requests');
  const CENTS = d.text('cents');
  /** The window that started at `at` has elapsed at `now` (or none started). */
  const fresh = (at: string, sec: string, now: string) => d.any(d.isNull(at), d.pastSec(now, at, sec));
  /** When the window a call at `now` falls in started. */
  const start = (at: string, sec: string, now: string) => d.when(fresh(at, sec, now), now, at);
  /** A window counter (`count` or `micros`) as a call at `now` sees it: 0 in a fresh window. */
  const current = (value: string, at: string, sec: string, now: string) =>
    d.when(fresh(at, sec, now), '0', value);
  /** Why a call needing `need` micros is refused (`requests` | `cents`), or NULL when it fits. */
  const refusal = (
    requests: string,
    cents: string,
    sec: string,
    at: string,
    count: string,
    micros: string,
    now: string,
    need: string,
  ) =>
    d.cases([
      [d.isNull(sec), d.null],
      [d.bare(d.notNull(requests), d.gt(d.add(current(count, at, sec, now), '1'), requests)), REQUESTS],
      [d.bare(d.notNull(cents), d.gt(d.add(current(micros, at, sec, now), need), capMicros(cents))), CENTS],
    ]);
  /** What is left in the window of `kind`: calls for `requests`, micros for `cents` (never below 0). */
  const remaining = (
    kind: string,
    requests: string,
    cents: string,
    count: string,
    micros: string,
    at: string,
    sec: string,
    now: string,
  ) =>
    d.float(
      d.cases(
        [[d.eq(kind, REQUESTS), d.greatest(d.sub(requests, current(count, at, sec, now)), '0')]],
        d.greatest(d.sub(capMicros(cents), current(micros, at, sec, now)), '0'),
      ),
    );
  /** The kind a row's numbers are reported in when nothing refused: calls when it limits them. */
  const kind = (requests: string) => d.when(d.notNull(requests), REQUESTS, CENTS);
  /** Whole seconds, at least 1, until the window a call at `now` falls in resets. */
  const resetSec = (at: string, sec: string, now: string) =>
    d.float(d.greatest('1', d.least(sec, d.ceil(d.sub(sec, d.secondsSince(now, start(at, sec, now)))))));
  /** What an admitted call writes: its window's count and micros with it counted. */
  const countAfter = (count: string, at: string, sec: string, now: string) =>
    d.add(current(count, at, sec, now), '1');
  const microsAfter = (micros: string, at: string, sec: string, now: string, need: string) =>
    d.add(current(micros, at, sec, now), need);
  return { fresh, start, current, refusal, remaining, kind, resetSec, countAfter, microsAfter };
}
