import type { AgentKey } from '@agentkey/core';
import { manualClock, type TestDb } from '@agentkey/test-support/db.js';
import { openLostAnswerStore, type voidLater } from '@agentkey/test-support/in-doubt.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Every claim records the period mark of each counter it charged (sql/requests.ts), the lean
 * hold statements' too: without one, a void refunded the key counter after a roll or a reset
 * and let the key spend past its cap. A mark with no reset date (a hand-written period) still
 * matches once a same-period setBudget fills the date in, until that period rolls.
 */
describe('the period marks claims record', () => {
  let db: TestDb;
  let ak: AgentKey;
  let direct: AgentKey;
  let h: ReturnType<typeof voidLater>;
  const clock = manualClock(new Date('2026-03-15T23:59:00Z'));
  beforeAll(async () => {
    ({ db, direct, ak, h } = await openLostAnswerStore(clock));
  });
  afterAll(() => db.close());

  it('a charge with a hold voided after its period rolled does not refund the new day', async () => {
    clock.set('2026-03-15T23:59:00Z');
    const { key, id } = await direct.create({ accountId: 'hm-roll', budgetCents: 100, budgetPeriod: 'day' });
    const first = await h.lostThen(
      id,
      () => ak.authorize(key, { costCents: 60, holdCents: 1, holdTtl: '5m' }),
      async () => {
        clock.set('2026-03-17T00:00:00Z');
        expect(await direct.authorize(key, { costCents: 90 })).toMatchObject({ ok: true });
      },
    );
    expect(first).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    const third = await direct.authorize(key, { costCents: 70 });
    const used = (await direct.getKey(id))!.budget.usedCents;
    expect({ third: third.ok, used }).toEqual({ third: false, used: 90 });
  });

  it('a charge with a hold voided after an admin reset does not refund the charges made since', async () => {
    clock.set('2026-03-20T12:00:00Z');
    const k2 = await direct.create({ accountId: 'hm-reset2', budgetCents: 100 });
    await h.lostThen(
      k2.id,
      () => ak.authorize(k2.key, { costCents: 60, holdCents: 1, holdTtl: '5m' }),
      async () => {
        expect(await direct.resetBudget({ keyId: k2.id })).toBe(true);
        expect(await direct.authorize(k2.key, { costCents: 90 })).toMatchObject({ ok: true });
      },
    );
    const third = await direct.authorize(k2.key, { costCents: 70 });
    const used = (await direct.getKey(k2.id))!.budget.usedCents;
    expect({ third: third.ok, used }).toEqual({ third: false, used: 90 });
  });

  it('batched charges with holds record their mark: voided after a roll, they refund nothing', async () => {
    clock.set('2026-04-15T23:59:00Z');
    const { key, id } = await direct.create({ accountId: 'hm-batch', budgetCents: 100, budgetPeriod: 'day' });
    await h.lostThen(
      id,
      () =>
        Promise.all([1, 2, 3].map(() => ak.authorize(key, { costCents: 20, holdCents: 1, holdTtl: '5m' }))),
      async () => {
        clock.set('2026-04-17T00:00:00Z');
        expect(await direct.authorize(key, { costCents: 90 })).toMatchObject({ ok: true });
      },
    );
    const unmarked = await h.q(
      `SELECT count(*)::int AS n FROM {T}_requests WHERE principal_id = $1 AND kind <> 'tombstone' AND key_mark IS NULL`,
      [id],
    );
    expect(unmarked[0]!.n).toBe(0);
    expect((await direct.getKey(id))!.budget.usedCents).toBe(90);
  });

  it('a hand-written period with no reset date, given one by a same-period setBudget, still refunds its charge', async () => {
    clock.set('2026-05-20T12:00:00Z');
    const { key, id } = await direct.create({ accountId: 'hm-fill', budgetCents: 100, budgetPeriod: 'day' });
    await h.q(`UPDATE {T} SET budget_reset_at = NULL WHERE id = $1`, [id]);
    const first = await h.lostThen(
      id,
      () => ak.authorize(key, { costCents: 60 }),
      async () => {
        expect(await direct.setBudget({ keyId: id }, { budgetCents: 100, budgetPeriod: 'day' })).toBe(true);
      },
    );
    expect(first).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    const all = { from: new Date('2020-01-01T00:00:00Z'), to: new Date('2030-01-01T00:00:00Z') };
    const used = (await direct.getKey(id))!.budget.usedCents;
    const ledger = (await direct.spend({ keyId: id }, all)).totalCents;
    expect({ used, ledger }).toEqual({ used: 0, ledger: 0 });
  });

  it('the same, with the filled-in period rolled before the void: the new day keeps its cap', async () => {
    clock.set('2026-05-22T12:00:00Z');
    const { key, id } = await direct.create({
      accountId: 'hm-fill-roll',
      budgetCents: 100,
      budgetPeriod: 'day',
    });
    await h.q(`UPDATE {T} SET budget_reset_at = NULL WHERE id = $1`, [id]);
    await h.lostThen(
      id,
      () => ak.authorize(key, { costCents: 60 }),
      async () => {
        expect(await direct.setBudget({ keyId: id }, { budgetCents: 100, budgetPeriod: 'day' })).toBe(true);
        clock.set('2026-05-24T12:00:00Z');
        expect(await direct.authorize(key, { costCents: 90 })).toMatchObject({ ok: true });
      },
    );
    const third = await direct.authorize(key, { costCents: 70 });
    const used = (await direct.getKey(id))!.budget.usedCents;
    expect({ third: third.ok, used }).toEqual({ third: false, used: 90 });
  });
});
