import { openStore, serverPool, type TestDb } from '@agentkey/test-support/db.js';
import fc from 'fast-check';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMonthsUtc, firstReset, nextReset } from '../../src/budget/period.js';

const ZONES = ['UTC', 'America/New_York', 'Pacific/Kiritimati', 'Asia/Kathmandu', 'Australia/Lord_Howe'];
const instant = fc.date({
  min: new Date('2000-01-01T00:00:00Z'),
  max: new Date('2090-01-01T00:00:00Z'),
  noInvalidDate: true,
});
const period = fc.constantFrom('day' as const, 'week' as const, 'month' as const);

function underTz<T>(tz: string, fn: () => T): T {
  const saved = process.env.TZ;
  process.env.TZ = tz;
  try {
    return fn();
  } finally {
    process.env.TZ = saved;
  }
}

describe('period arithmetic (pure)', () => {
  it('the next reset always lands strictly in the future, at most one period after now', () => {
    fc.assert(
      fc.property(period, instant, fc.integer({ min: 0, max: 5 * 365 * 86_400_000 }), (p, resetAt, ahead) => {
        const now = new Date(resetAt.getTime() + ahead);
        const next = nextReset(p, resetAt, now);
        expect(next.getTime()).toBeGreaterThan(now.getTime());
        // An anchored month (Jan 31 → Feb 28 → Mar 31) may run 31 days past a reset on the 28th.
        const limit = new Date(now.getTime() + (p === 'month' ? 31 : p === 'week' ? 7 : 1) * 86_400_000);
        expect(next.getTime()).toBeLessThanOrEqual(limit.getTime());
      }),
    );
  });

  it('month ends clamp: Jan 31 → Feb 28/29, never into March', () => {
    expect(addMonthsUtc(new Date('2026-01-31T10:00:00Z'), 1).toISOString()).toBe('2026-02-28T10:00:00.000Z');
    expect(addMonthsUtc(new Date('2028-01-31T10:00:00Z'), 1).toISOString()).toBe('2028-02-29T10:00:00.000Z');
    expect(addMonthsUtc(new Date('2026-03-31T00:00:00Z'), 1).toISOString()).toBe('2026-04-30T00:00:00.000Z');
    expect(addMonthsUtc(new Date('2026-12-31T23:59:59Z'), 2).toISOString()).toBe('2027-02-28T23:59:59.000Z');
    fc.assert(
      fc.property(instant, fc.integer({ min: 1, max: 120 }), (from, months) => {
        const to = addMonthsUtc(from, months);
        const monthIndex = from.getUTCFullYear() * 12 + from.getUTCMonth() + months;
        expect(to.getUTCFullYear() * 12 + to.getUTCMonth()).toBe(monthIndex);
        expect(to.getUTCDate()).toBeLessThanOrEqual(from.getUTCDate());
      }),
    );
  });

  it('starts a month as 0.2.0 does, in UTC: 00:00 on the same day next month, clamped; a day or week at its instant', () => {
    expect(firstReset('month', new Date('2026-01-31T10:00:00Z')).toISOString()).toBe(
      '2026-02-28T00:00:00.000Z',
    );
    expect(firstReset('month', new Date('2026-12-15T23:59:59.999Z')).toISOString()).toBe(
      '2027-01-15T00:00:00.000Z',
    );
    expect(firstReset('day', new Date('2026-01-31T10:00:00Z')).toISOString()).toBe(
      '2026-02-01T10:00:00.000Z',
    );
    expect(firstReset('week', new Date('2026-01-31T10:00:00Z')).toISOString()).toBe(
      '2026-02-07T10:00:00.000Z',
    );
    fc.assert(
      fc.property(instant, (now) => {
        const reset = firstReset('month', now);
        const lastDay = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 2, 0)).getUTCDate();
        expect(reset.toISOString().slice(10)).toBe('T00:00:00.000Z');
        expect(reset.getUTCFullYear() * 12 + reset.getUTCMonth()).toBe(
          now.getUTCFullYear() * 12 + now.getUTCMonth() + 1,
        );
        expect(reset.getUTCDate()).toBe(Math.min(now.getUTCDate(), lastDay));
        expect(firstReset('day', now).getTime() - now.getTime()).toBe(86_400_000);
        expect(firstReset('week', now).getTime() - now.getTime()).toBe(7 * 86_400_000);
      }),
    );
  });

  it("rolls a month onto 00:00 UTC of the last reset's day, even from a reset written at another hour", () => {
    fc.assert(
      fc.property(instant, fc.integer({ min: 0, max: 5 * 365 * 86_400_000 }), (resetAt, ahead) => {
        const next = nextReset('month', resetAt, new Date(resetAt.getTime() + ahead));
        const lastDay = new Date(Date.UTC(next.getUTCFullYear(), next.getUTCMonth() + 1, 0)).getUTCDate();
        expect(next.toISOString().slice(10)).toBe('T00:00:00.000Z');
        expect(next.getUTCDate()).toBe(Math.min(resetAt.getUTCDate(), lastDay));
      }),
    );
  });

  it('gives the same instants whatever TZ the process runs under', () => {
    fc.assert(
      fc.property(period, instant, fc.integer({ min: 0, max: 400 * 86_400_000 }), (p, resetAt, ahead) => {
        const now = new Date(resetAt.getTime() + ahead);
        const results = ZONES.map((tz) =>
          underTz(tz, () => [nextReset(p, resetAt, now), firstReset(p, now)]),
        );
        for (const r of results)
          expect(r.map((d) => d.toISOString())).toEqual(results[0]!.map((d) => d.toISOString()));
      }),
      { numRuns: 200 },
    );
  });
});

// The charging statement computes resets in SQL; it must agree with the pure functions, whatever
// time zone the database session uses.
describe('period arithmetic in SQL agrees with the pure functions (server)', () => {
  let db: TestDb;
  let pool: pg.Pool;
  beforeAll(async () => {
    ({ db } = await openStore('postgres'));
    pool = serverPool(undefined, 1);
  });
  afterAll(async () => {
    await pool.end();
    await db.close();
  });

  it('matches nextReset for random periods, resets and clocks in every session time zone', async () => {
    const { NEXT_RESET } = await import('../../src/sql/expressions.js');
    const query = `SELECT ${NEXT_RESET} AS next FROM (SELECT $1::text AS budget_period, $3::timestamptz AS budget_reset_at) r`;
    await fc.assert(
      fc.asyncProperty(
        period,
        instant,
        fc.integer({ min: 0, max: 3 * 365 * 86_400_000 }),
        fc.constantFrom(...ZONES),
        async (p, resetAt, ahead, tz) => {
          const now = new Date(resetAt.getTime() + ahead);
          await pool.query(`SET TIME ZONE '${tz}'`);
          const { rows } = await pool.query(query, [p, now, resetAt]);
          expect(new Date(rows[0].next).toISOString()).toBe(nextReset(p, resetAt, now).toISOString());
        },
      ),
      { numRuns: 300 },
    );
  });
});
