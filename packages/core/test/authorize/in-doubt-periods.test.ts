import type { AgentKey } from '@agentkey/core';
import { manualClock, type TestDb } from '@agentkey/test-support/db.js';
import { openLostAnswerStore, type voidLater } from '@agentkey/test-support/in-doubt.js';
import { EVENTS, replay } from '@agentkey/test-support/ledger.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** A void that lands after the counters it refunds have moved on (a period roll, an admin reset). */
const TIMEOUT_MS = 500;

describe('voids after a period roll or a reset', () => {
  let db: TestDb;
  let ak: AgentKey;
  let direct: AgentKey;
  let q: ReturnType<typeof voidLater>['q'];
  let lostThen: ReturnType<typeof voidLater>['lostThen'];
  const clock = manualClock(new Date('2026-03-15T23:59:00Z'));
  beforeAll(async () => {
    let h: ReturnType<typeof voidLater>;
    ({ db, direct, ak, h } = await openLostAnswerStore(clock, TIMEOUT_MS));
    ({ q, lostThen } = h);
  });
  afterAll(() => db.close());

  it('a charge voided after its daily period rolled leaves the new period alone: the new day never overspends', async () => {
    clock.set('2026-03-15T23:59:00Z');
    const { key, id } = await direct.create({ accountId: 'roll', budgetCents: 100, budgetPeriod: 'day' });
    const first = await lostThen(
      id,
      () => ak.authorize(key, { costCents: 60 }),
      async () => {
        clock.set('2026-03-17T00:00:00Z');
        const second = await direct.authorize(key, { costCents: 90 });
        expect(second, JSON.stringify(second)).toMatchObject({ ok: true });
      },
    );
    expect(first).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    // Day 2 has 90 of its 100 acknowledged: a charge of 70 must be refused.
    const third = await direct.authorize(key, { costCents: 70 });
    const used = (await direct.getKey(id))!.budget.usedCents;
    const rows = await q(
      `SELECT kind, amount_micros::float8 AS m, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day FROM {T}_ledger WHERE principal_id = $1 AND kind NOT LIKE 'admin:%' ORDER BY id`,
      [id],
    );
    expect({ third: third.ok, used, ledger: rows.map((r) => `${r.day} ${r.kind} ${r.m}`) }).toEqual({
      third: false,
      used: 90,
      ledger: ['2026-03-15 charge 600000', '2026-03-17 charge 900000', '2026-03-15 void -600000'],
    });
  });

  it('a charge voided after an admin reset leaves the charges made since the reset alone: the cap holds', async () => {
    clock.set('2026-03-20T12:00:00Z');
    const { key, id } = await direct.create({ accountId: 'reset', budgetCents: 100 });
    await lostThen(
      id,
      () => ak.authorize(key, { costCents: 60 }),
      async () => {
        expect(await direct.resetBudget({ keyId: id })).toBe(true);
        expect(await direct.authorize(key, { costCents: 90 })).toMatchObject({ ok: true });
      },
    );
    const third = await direct.authorize(key, { costCents: 70 });
    const used = (await direct.getKey(id))!.budget.usedCents;
    expect({ third: third.ok, used }).toEqual({ third: false, used: 90 });
  });

  it("a charge voided after its key's reset still comes off the account ceiling", async () => {
    clock.set('2026-03-20T12:00:00Z');
    await direct.setAccountBudget('acct-reset', { budgetCents: 100 });
    const { key, id } = await direct.create({ accountId: 'acct-reset', budgetCents: null });
    const first = await lostThen(
      id,
      () => ak.authorize(key, { costCents: 60 }),
      async () => {
        expect(await direct.resetBudget({ keyId: id })).toBe(true);
      },
    );
    expect(first).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    const account = await direct.getAccount('acct-reset');
    const ledgerSum = (
      await q(
        `SELECT COALESCE(sum(amount_micros), 0)::float8 AS m FROM {T}_ledger WHERE account_id = 'acct-reset' AND kind IN ('charge','settle','void')`,
      )
    )[0].m;
    expect({ accountUsed: account!.usedCents, ledgerSum }).toEqual({ accountUsed: 0, ledgerSum: 0 });
  });

  it("a pooled child's charge voided after the child's reset still comes off the pool parent", async () => {
    clock.set('2026-03-20T12:00:00Z');
    const parent = await direct.create({ accountId: 'pool-reset', budgetCents: 100 });
    const child = await direct.create({
      accountId: 'pool-reset',
      budgetCents: null,
      poolParentId: parent.id,
    });
    await lostThen(
      child.id,
      () => ak.authorize(child.key, { costCents: 60 }),
      async () => {
        expect(await direct.resetBudget({ keyId: child.id })).toBe(true);
      },
    );
    expect((await direct.getKey(parent.id))!.budget.usedCents).toBe(0);
  });

  it('after voids across resets, the ledger still equals the counter of the key, its pool parent and its account', async () => {
    clock.set('2026-03-21T12:00:00Z');
    await direct.setAccountBudget('sums', { budgetCents: 500 });
    const parent = await direct.create({ accountId: 'sums', budgetCents: 100 });
    const child = await direct.create({ accountId: 'sums', budgetCents: null, poolParentId: parent.id });
    await lostThen(
      child.id,
      () => ak.authorize(child.key, { costCents: 60 }),
      async () => {
        expect(await direct.resetBudget({ keyId: parent.id })).toBe(true);
        expect(await direct.resetBudget({ accountId: 'sums' })).toBe(true);
        expect(await direct.authorize(child.key, { costCents: 20 })).toMatchObject({ ok: true });
      },
    );
    const all = { from: new Date('2026-01-01T00:00:00Z'), to: new Date('2026-12-31T00:00:00Z') };
    const counters = {
      child: (await direct.getKey(child.id))!.budget.usedCents,
      parent: (await direct.getKey(parent.id))!.budget.usedCents,
      account: (await direct.getAccount('sums'))!.usedCents,
    };
    expect(counters).toEqual({ child: 20, parent: 20, account: 20 });
    expect({
      child: (await direct.spend({ keyId: child.id }, all)).totalCents,
      parent: (await direct.spend({ keyId: parent.id }, all)).totalCents,
      account: (await direct.spend({ accountId: 'sums' }, all)).totalCents,
    }).toEqual(counters);
    // The void is replayed as the reversal of its charge: the child never held more than its 20.
    expect(replay(await q(EVENTS.replace('{L}', '{T}_ledger'), [child.id]), 100 * 10_000).used).toBe(200_000);
  });

  it('a voided settle whose room was taken meanwhile leaves its hold closed: the retry charges nothing, the cap holds', async () => {
    clock.set('2026-03-22T12:00:00Z');
    const { key, id } = await direct.create({ accountId: 'no-room', budgetCents: 100 });
    const held = await direct.reserve(key, { maxCents: 30 });
    if (!held.ok) throw new Error('reserve');
    const first = await lostThen(
      id,
      () => ak.settle(held.hold!.id, { costCents: 7 }),
      async () => {
        expect(await direct.authorize(key, { costCents: 90 })).toMatchObject({ ok: true });
      },
    );
    expect(first).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    const retry = await direct.settle(held.hold!.id, { costCents: 7 });
    expect({
      retry: retry.ok ? 'ok' : retry.error.code,
      used: (await direct.getKey(id))!.budget.usedCents,
    }).toEqual({
      retry: 'hold_closed',
      used: 90,
    });
  });
});
