import {
  rateFresh,
  rateKind,
  rateNow,
  rateRefusal,
  rateRemaining,
  rateResetSec,
  rateStart,
} from './rate-rules.js';

/**
 * A key's rate window inside the lean charge statements (sql/charges.ts), so a key with a rate
 * limit stays on the batched path instead of going to the engine function call by call. Every
 * decision is the rule of budget/rate-model.ts (through sql/rate-rules.ts), read and written on
 * the key row the statement holds locked, exactly as the engine does it. An account with a rate
 * window still goes to the engine (`accountRateFree`): its window lives on the account row.
 */

/** The lean statements' account guard: the key's account has no rate window. Snapshot-read. */
export const accountRateFree = (accounts: string, row: string) =>
  `NOT EXISTS (SELECT 1 FROM ${accounts} ra
    WHERE ra.account_id = ${row}.account_id AND ra.rate_window_sec IS NOT NULL)`;

/** The key's window columns, unqualified (a lone statement's row) or as `k`'s (a batch). */
const COLS = {
  requests: 'rate_requests',
  cents: 'rate_cents',
  sec: 'rate_window_sec',
  at: 'rate_window_at',
  count: 'rate_count',
  micros: 'rate_micros',
};

/** A lone call at `now` needing `need` micros fits the key's window (always, when it has none). */
export const rateFits = (now: string, need: string) =>
  `${rateRefusal(COLS.requests, COLS.cents, COLS.sec, COLS.at, COLS.count, COLS.micros, now, need)} IS NULL`;

/** The SET of a lone admitted call: counted in its window, as the engine's `_rate_take_key`. */
export const rateSets = (now: string, need: string) => {
  const limited = (value: string, old: string) =>
    `${old} = CASE WHEN ${COLS.sec} IS NULL THEN ${old} ELSE ${value} END`;
  return [
    limited(rateStart(COLS.at, COLS.sec, now), COLS.at),
    limited(`${rateNow(COLS.count, COLS.at, COLS.sec, now)} + 1`, COLS.count),
    limited(`${rateNow(COLS.micros, COLS.at, COLS.sec, now)} + ${need}`, COLS.micros),
  ].join(',\n    ');
};

/**
 * What a passed call reports of the key's window (the engine row's rate_ columns; all NULL for a
 * key without one), from the window `at`, `count`, `micros` as the call leaves it at `now`.
 */
export function rateColumns(
  w: { requests: string; cents: string; sec: string; at: string; count: string; micros: string },
  now: string,
): string {
  const kind = rateKind(w.requests);
  const limited = (value: string) => `CASE WHEN ${w.sec} IS NOT NULL THEN ${value} END`;
  return [
    `${limited(`'key'`)} AS rate_policy`,
    `${limited(kind)} AS rate_kind`,
    `${limited(`(CASE WHEN ${w.requests} IS NOT NULL THEN ${w.requests} ELSE ${w.cents} END)::float8`)} AS rate_limit`,
    `${limited(rateRemaining(kind, w.requests, w.cents, w.count, w.micros, w.at, w.sec, now))} AS rate_remaining`,
    `${limited(rateResetSec(w.at, w.sec, now))} AS rate_reset_sec`,
    `${w.sec}::float8 AS rate_window_sec`,
  ].join(', ');
}

/** A lone statement's RETURNING of the window: the updated row's columns. */
export const RATE_RETURNING = (now: string) => rateColumns(COLS, now);

/**
 * The batch's window, per call of `asked` (sql/charges.ts): the columns `k` carries as ak_r*, the
 * first call on the key in the batch (`ak_rfirst`, its now) and the call's rank on the key
 * (`ak_rn`), its cost `ak_cost` and the key's running cost `ak_key_total`. The batch takes a
 * key's calls in one window: the one its first call sees (`ak_rstart`), with what that window had
 * counted (`ak_rbase`, `ak_rbase_micros`); a call past that window goes to the engine, which
 * opens the next one. Each call is judged by the rule as the calls before it on the key leave
 * the window — the engine's decision for the same calls one after another.
 */
export const BATCH_WINDOW = `${rateStart('ak_rat', 'ak_rsec', 'ak_rfirst')} AS ak_rstart,
      ${rateNow('ak_rcount', 'ak_rat', 'ak_rsec', 'ak_rfirst')} AS ak_rbase,
      ${rateNow('ak_rmicros', 'ak_rat', 'ak_rsec', 'ak_rfirst')} AS ak_rbase_micros`;

/** A call of the batch fits its key's window (see BATCH_WINDOW); always, for a key without one. */
export const BATCH_FITS = `(ak_rsec IS NULL OR (NOT ${rateFresh('ak_rstart', 'ak_rsec', 'ak_now')}
      AND ${rateRefusal(
        'ak_rreq',
        'ak_rcents',
        'ak_rsec',
        'ak_rstart',
        'ak_rbase + ak_rn - 1',
        'ak_rbase_micros + ak_key_total - ak_cost',
        'ak_now',
        'ak_cost',
      )} IS NULL))`;

/** The batch's write of a key's window: `p` is the key's admitted calls (count ak_rn, cost ak_cost). */
export const BATCH_SETS = `rate_window_at = CASE WHEN rate_window_sec IS NULL THEN rate_window_at ELSE p.ak_rstart END,
      rate_count = CASE WHEN rate_window_sec IS NULL THEN rate_count ELSE p.ak_rbase + p.ak_rn END,
      rate_micros = CASE WHEN rate_window_sec IS NULL THEN rate_micros ELSE p.ak_rbase_micros + p.ak_cost END`;
