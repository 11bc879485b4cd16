/**
 * SQL fragments over one row of the keys table. They are evaluated inside the UPDATE that
 * charges, so an elapsed period resets in the same atomic step and a concurrent writer's row
 * version is re-checked by PostgreSQL before the charge lands. `$2` is always the caller's clock.
 */
export const NOW = '$2::timestamptz';

/** The budget period has elapsed: used falls to zero and reset_at moves into the future. */
export const ELAPSED = `(budget_reset_at IS NOT NULL AND budget_reset_at <= ${NOW})`;

/**
 * Micros stored for the row. `budget_used_micros` is exact; `budget_used_cents` is 0.2.0's whole
 * cents (rounded up) that users read and sometimes write by hand. When the two disagree a person
 * edited the cents, and the cents win.
 */
const STORED_MICROS = `(CASE WHEN budget_used_micros IS NOT NULL AND (budget_used_micros + 9999) / 10000 = COALESCE(budget_used_cents, 0) THEN budget_used_micros ELSE COALESCE(budget_used_cents, 0)::bigint * 10000 END)`;

/** Micros used when the period has not elapsed (the hot path checks `NOT ELAPSED` instead of resetting). */
export const STORED_USED_MICROS = STORED_MICROS;

/** Micros used in the current period. */
export const USED_MICROS = `(CASE WHEN ${ELAPSED} THEN 0::bigint ELSE ${STORED_MICROS} END)`;

const CAP_MICROS = '(budget_cents::bigint * 10000)';

const UTC_RESET = `(budget_reset_at AT TIME ZONE 'UTC')`;
const MONTHS_ELAPSED = `((extract(year FROM ${NOW} AT TIME ZONE 'UTC') - extract(year FROM ${UTC_RESET})) * 12 + extract(month FROM ${NOW} AT TIME ZONE 'UTC') - extract(month FROM ${UTC_RESET}))::int`;
const plusMonths = (n: string) => `((${UTC_RESET} + make_interval(months => ${n})) AT TIME ZONE 'UTC')`;
const PERIOD_SECONDS = `(CASE WHEN budget_period = 'week' THEN 604800 ELSE 86400 END)`;

/**
 * The reset after an elapsed one: whole periods after the old reset, strictly after now. Days and
 * weeks step in exact seconds (no session time zone or DST can bend them); months add calendar
 * months in UTC and clamp like `budget/period.ts`.
 */
export const NEXT_RESET = `(CASE WHEN NOT ${ELAPSED} THEN budget_reset_at
  WHEN budget_period = 'month' THEN
    CASE WHEN ${plusMonths(MONTHS_ELAPSED)} > ${NOW} THEN ${plusMonths(MONTHS_ELAPSED)} ELSE ${plusMonths(`${MONTHS_ELAPSED} + 1`)} END
  ELSE budget_reset_at + (${PERIOD_SECONDS} * (floor(extract(epoch FROM (${NOW} - budget_reset_at)) / ${PERIOD_SECONDS}) + 1)) * interval '1 second'
END)`;

export const LIVE = `(revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ${NOW}))`;

/** last_used_at is written at most once a minute per row, never on every request. */
export const STALE = `(last_used_at IS NULL OR last_used_at < ${NOW} - interval '60 seconds')`;

/** `scope` ($4) is granted by the row: no scope asked, unlimited row, the scope itself or `admin`. */
export const SCOPE_OK = `($4::text IS NULL OR scopes IS NULL OR $4::text = ANY(scopes) OR 'admin' = ANY(scopes))`;

/**
 * `need` (micros) fits a row whose period has not elapsed, counting `held_micros` — an upper bound
 * of the row's open holds — so a lean statement can only ever be stricter than the exact engine.
 * A spent key refuses even a free call, as validate does.
 */
export const fitsHeld = (need: string) =>
  `(budget_cents IS NULL OR (${STORED_MICROS} + held_micros + ${need} <= ${CAP_MICROS} AND ${STORED_MICROS} + held_micros < ${CAP_MICROS}))`;

export const FITS_UNRESET = fitsHeld('$3::bigint');

/** Whole cents for 0.2.0's column, rounded up, kept inside INTEGER. */
export const centsOf = (micros: string) => `LEAST((${micros} + 9999) / 10000, 2147483647)::int`;
