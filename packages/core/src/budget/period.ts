/**
 * Budget periods, always in UTC. A periodic budget resets when its `budget_reset_at` has passed:
 * the next reset is the old one advanced by whole periods until it lies in the future.
 * Days and weeks are 24 h and 7 × 24 h from the instant the period starts, as agentkey 0.2.0's
 * day. Months end at 00:00 UTC, as 0.2.0's did at the server's midnight: on the reset's day of the
 * month, clamped to the month's end (created Jan 31 → Feb 28/29 → Mar 28, as in 0.2.0; months
 * elapsed at once count from the last reset, Jan 31 → Mar 31), as PostgreSQL's `timestamp + interval`.
 * The SQL in `sql/expressions.ts` computes the same thing inside the charging statement; a
 * property test holds the two equal.
 */
export type BudgetPeriod = 'day' | 'week' | 'month';
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

/** A month boundary: `months` calendar months after `from`, clamped, at 00:00 UTC of that day. */
function monthlyReset(from: Date, months: number): Date {
  const to = addMonthsUtc(from, months);
  return new Date(Date.UTC(to.getUTCFullYear(), to.getUTCMonth(), to.getUTCDate()));
}

/**
 * The first reset of a period starting at `now`: every place that starts one (create,
 * ensureSubject, first sight, a new period set by update, setBudget or setAccountBudget) uses it.
 */
export function firstReset(period: BudgetPeriod, now: Date): Date {
  return period === 'month' ? monthlyReset(now, 1) : new Date(now.getTime() + periodDays(period) * DAY_MS);
}

/** The reset that follows `resetAt` once it has passed: strictly after `now`. */
export function nextReset(period: BudgetPeriod | string | null, resetAt: Date, now: Date): Date {
  if (resetAt > now) return resetAt;
  if (period === 'month') {
    const elapsed =
      (now.getUTCFullYear() - resetAt.getUTCFullYear()) * 12 + (now.getUTCMonth() - resetAt.getUTCMonth());
    // A reset written at another hour (by hand, or before months fell at midnight) rolls onto 00:00 UTC.
    const candidate = monthlyReset(resetAt, elapsed);
    return candidate > now ? candidate : monthlyReset(resetAt, elapsed + 1);
  }
  const step = periodDays(period) * DAY_MS;
  const steps = Math.floor((now.getTime() - resetAt.getTime()) / step) + 1;
  return new Date(resetAt.getTime() + steps * step);
}

/** Unknown periods written by hand into the table reset daily, as agentkey 0.2.0 did. */
function periodDays(period: BudgetPeriod | string | null): number {
  return period === 'week' ? 7 : 1;
}
