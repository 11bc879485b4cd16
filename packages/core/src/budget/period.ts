/**
 * Budget periods, always in UTC. A periodic budget resets when its `budget_reset_at` has passed:
 * the next reset is the old one advanced by whole periods until it lies in the future.
 * Months add calendar months to the old reset and clamp to the month's end (Jan 31 → Feb 28/29 →
 * Mar 31 when several months elapse at once), exactly as PostgreSQL's `timestamp + interval`.
 * The SQL in `sql/expressions.ts` computes the same thing inside the charging statement; a
 * property test holds the two equal.
 */
export type BudgetPeriod = 'day' | 'week' | 'month';
export const LEGACY_PERIODS: readonly BudgetPeriod[] = ['day', 'month'];
export const PERIODS: readonly BudgetPeriod[] = ['day', 'week', 'month'];

const DAY_MS = 86_400_000;

/** `from` plus `months` calendar months in UTC, clamped to the target month's last day. */
export function addMonthsUtc(from: Date, months: number): Date {
  const y = from.getUTCFullYear();
  const m = from.getUTCMonth() + months;
  const targetYear = y + Math.floor(m / 12);
  const targetMonth = ((m % 12) + 12) % 12;
  const lastDay = new Date(Date.UTC(targetYear, targetMonth + 1, 0)).getUTCDate();
  const day = Math.min(from.getUTCDate(), lastDay);
  return new Date(
    Date.UTC(
      targetYear,
      targetMonth,
      day,
      from.getUTCHours(),
      from.getUTCMinutes(),
      from.getUTCSeconds(),
      from.getUTCMilliseconds(),
    ),
  );
}

/** The first reset of a budget created at `now`. */
export function firstReset(period: BudgetPeriod, now: Date): Date {
  return period === 'month' ? addMonthsUtc(now, 1) : new Date(now.getTime() + periodDays(period) * DAY_MS);
}

/** The reset that follows `resetAt` once it has passed: strictly after `now`. */
export function nextReset(period: BudgetPeriod | string | null, resetAt: Date, now: Date): Date {
  if (resetAt > now) return resetAt;
  if (period === 'month') {
    const elapsed =
      (now.getUTCFullYear() - resetAt.getUTCFullYear()) * 12 + (now.getUTCMonth() - resetAt.getUTCMonth());
    const candidate = addMonthsUtc(resetAt, elapsed);
    return candidate > now ? candidate : addMonthsUtc(resetAt, elapsed + 1);
  }
  const step = periodDays(period) * DAY_MS;
  const steps = Math.floor((now.getTime() - resetAt.getTime()) / step) + 1;
  return new Date(resetAt.getTime() + steps * step);
}

/** Unknown periods written by hand into the table reset daily, as agentkey 0.2.0 did. */
function periodDays(period: BudgetPeriod | string | null): number {
  return period === 'week' ? 7 : 1;
}
