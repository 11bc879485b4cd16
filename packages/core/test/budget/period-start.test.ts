import type { AgentKey } from '@agentkey/core';
import { manualClock, openStore, type TestDb } from '@agentkey/test-support/db.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const MIDNIGHT_FEB_28 = '2026-02-28T00:00:00.000Z';

// agentkey 0.2.0 ends a month at midnight on the same day next month; here that midnight is UTC.
// Its day is 24 hours from the start, and so is ours (a week is seven of them).
describe('where a period starts and rolls (server)', () => {
  let db: TestDb;
  let ak: AgentKey;
  const clock = manualClock();
  const resetOf = async (id: number) => (await ak.getKey(id))!.budget.resetAt?.toISOString();
  beforeAll(async () => {
    ({ db, ak } = await openStore('postgres', { now: clock.now }));
  });
  afterAll(() => db.close());

  it('every way of starting a month ends it at 00:00 UTC on the same day next month, clamped', async () => {
    clock.set('2026-01-31T10:30:00Z');
    const created = await ak.create({ accountId: 'a', budgetCents: 5, budgetPeriod: 'month' });
    expect(await ak.validate(created.key)).toMatchObject({ budgetResetAt: MIDNIGHT_FEB_28 });

    await ak.ensureSubject('test|first-sight', { budgetCents: 5, budgetPeriod: 'month' });
    expect(await ak.validateBySubject('test|first-sight')).toMatchObject({ budgetResetAt: MIDNIGHT_FEB_28 });

    const updated = await ak.create({ accountId: 'a', budgetCents: 5 });
    await ak.update(updated.id, { budgetPeriod: 'month' });
    expect(await resetOf(updated.id)).toBe(MIDNIGHT_FEB_28);

    await ak.ensureSubject('test|set-budget', { budgetCents: 5, budgetPeriod: 'day' });
    await ak.setBudget({ subject: 'test|set-budget' }, { budgetCents: 5, budgetPeriod: 'month' });
    expect((await ak.getSubject('test|set-budget'))!.budget.resetAt?.toISOString()).toBe(MIDNIGHT_FEB_28);

    await ak.setAccountBudget('acme', { budgetCents: 100, budgetPeriod: 'month' });
    expect((await ak.getAccount('acme'))!.resetAt?.toISOString()).toBe(MIDNIGHT_FEB_28);

    clock.set('2028-01-31T23:59:59.999Z'); // a leap year
    const leap = await ak.create({ accountId: 'a', budgetCents: 5, budgetPeriod: 'month' });
    expect(await resetOf(leap.id)).toBe('2028-02-29T00:00:00.000Z');
  });

  it('a day or week starts at its instant, as 0.2.0 day does', async () => {
    clock.set('2026-01-31T10:30:00Z');
    const day = await ak.create({ accountId: 'a', budgetCents: 5, budgetPeriod: 'day' });
    const week = await ak.create({ accountId: 'a', budgetCents: 5, budgetPeriod: 'week' });
    expect(await resetOf(day.id)).toBe('2026-02-01T10:30:00.000Z');
    expect(await resetOf(week.id)).toBe('2026-02-07T10:30:00.000Z');
  });

  it('a month rolls from one 00:00 UTC to the next, keeping the day of the month', async () => {
    clock.set('2026-01-31T10:30:00Z');
    const { key, id } = await ak.create({ accountId: 'a', budgetCents: 5, budgetPeriod: 'month' });
    clock.set('2026-02-28T00:00:00Z'); // the reset instant itself has elapsed
    expect(await ak.trackUsage(key, { costCents: 1 })).toMatchObject({ success: true, budgetUsedCents: 1 });
    expect(await resetOf(id)).toBe('2026-03-28T00:00:00.000Z');
  });

  it('the lazy roll puts a month written at another hour onto 00:00 UTC, in every path', async () => {
    clock.set('2026-03-05T08:00:00Z');
    const handWritten = async () => {
      const row = await ak.create({ accountId: 'a', budgetCents: 5, budgetPeriod: 'month' });
      await db.pool.query(`UPDATE ${db.table} SET budget_reset_at = '2026-01-31T12:00:00Z' WHERE id = $1`, [
        row.id,
      ]);
      return row;
    };
    // Counted from the last reset: Jan 31 → Feb 28 (elapsed) → Mar 31.
    const expected = '2026-03-31T00:00:00.000Z';
    const viaValidate = await handWritten();
    expect(await ak.validate(viaValidate.key)).toMatchObject({ valid: true, budgetResetAt: expected });
    const viaTrackUsage = await handWritten();
    await ak.trackUsage(viaTrackUsage.key, { costCents: 1 });
    expect(await resetOf(viaTrackUsage.id)).toBe(expected);
    const viaAuthorize = await handWritten();
    expect(await ak.authorize(viaAuthorize.key, { costCents: 1 })).toMatchObject({
      ok: true,
      budget: { resetAt: new Date(expected) },
    });
    expect(await resetOf(viaAuthorize.id)).toBe(expected);
  });
});
