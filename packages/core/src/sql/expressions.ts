import { capFits, elapsed, live, scopeOk, storedUsed, usedNow } from './rules.js';

/**
 * SQL fragments over one row of the keys table. They are evaluated inside the UPDATE that
 * charges, so an elapsed period resets in the same atomic step and a concurrent writer's row
 * version is re-checked by PostgreSQL before the charge lands.
 *
 * `rowSql(now, scope)` builds them over any two SQL expressions: a single request's parameters
 * (`$2`, `$4`, the constants below) or a batch row's columns (sql/holds.ts).
 */
export function rowSql(now: string, scope: string) {
  /** The budget period has elapsed: used falls to zero and reset_at moves into the future. */
  const ELAPSED = elapsed('budget_reset_at', now);

  /** Micros used in the current period. */
  const USED_MICROS = usedNow('budget_used_micros', 'budget_used_cents', 'budget_reset_at', now);

  const UTC_RESET = `(budget_reset_at AT TIME ZONE 'UTC')`;
  const MONTHS_ELAPSED = `((extract(year FROM ${now} AT TIME ZONE 'UTC') - extract(year FROM ${UTC_RESET})) * 12 + extract(month FROM ${now} AT TIME ZONE 'UTC') - extract(month FROM ${UTC_RESET}))::int`;
  /** A month boundary at 00:00 UTC, as `monthlyReset` in budget/period.ts. */
  const plusMonths = (n: string) =>
    `(date_trunc('day', ${UTC_RESET} + make_interval(months => ${n})) AT TIME ZONE 'UTC')`;
  const PERIOD_SECONDS = `(CASE WHEN budget_period = 'week' THEN 604800 ELSE 86400 END)`;

  /**
   * The reset after an elapsed one: whole periods after the old reset, strictly after now. Days and
   * weeks step in exact seconds (no session time zone or DST can bend them); months add calendar
   * months in UTC, clamp and fall at 00:00 UTC like `budget/period.ts`.
   */
  const NEXT_RESET = `(CASE WHEN NOT ${ELAPSED} THEN budget_reset_at
  WHEN budget_period = 'month' THEN
    CASE WHEN ${plusMonths(MONTHS_ELAPSED)} > ${now} THEN ${plusMonths(MONTHS_ELAPSED)} ELSE ${plusMonths(`${MONTHS_ELAPSED} + 1`)} END
  ELSE budget_reset_at + (${PERIOD_SECONDS} * (floor(extract(epoch FROM (${now} - budget_reset_at)) / ${PERIOD_SECONDS}) + 1)) * interval '1 second'
END)`;

  return {
    NOW: now,
    ELAPSED,
    USED_MICROS,
    NEXT_RESET,
    LIVE: live('revoked_at', 'expires_at', now),
    /** last_used_at is written at most once a minute per row, never on every request. */
    STALE: `(last_used_at IS NULL OR last_used_at < ${now} - interval '60 seconds')`,
    /** `scope` is granted by the row: no scope asked, unlimited row, the scope itself or `admin`. */
    SCOPE_OK: scopeOk(scope, 'scopes'),
  };
}

/**
 * Micros stored for the row (sql/rules.ts storedUsed). Used as is when the period has not elapsed
 * (the hot path checks `NOT ELAPSED` instead of resetting).
 */
export const STORED_USED_MICROS = storedUsed('budget_used_micros', 'budget_used_cents');

/**
 * `need` (micros) fits a row whose period has not elapsed, counting `held_micros` — an upper bound
 * of the row's open holds — so a lean statement can only ever be stricter than the exact engine.
 */
export const fitsHeld = (need: string) =>
  capFits('budget_cents', `${STORED_USED_MICROS} + held_micros`, need);

export const FITS_UNRESET = fitsHeld('$3::bigint');

/** A single request's fragments: `$2` is always the caller's clock, `$4` the scope asked for. */
export const { NOW, ELAPSED, USED_MICROS, NEXT_RESET, LIVE, STALE, SCOPE_OK } = rowSql(
  '$2::timestamptz',
  '$4::text',
);
