import type { AgentKey } from '@agentkey/core';
import { manualClock, type TestDb } from '@agentkey/test-support/db.js';
import { openLostAnswerStore, type voidLater } from '@agentkey/test-support/in-doubt.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const all = { from: new Date('2020-01-01T00:00:00Z'), to: new Date('2030-01-01T00:00:00Z') };

/**
 * A void after the budget changed under the charge: a period removed keeps the spend (the void
 * refunds it), a period changed or a ceiling (re)set starts afresh (it refunds nothing), and the
 * void's ledger rows keep every ledger sum equal to its counter — the key's, the pool parent's and
 * the account's.
 */
describe('voids after a budget change', () => {
  let db: TestDb;
  let ak: AgentKey;
  let direct: AgentKey;
  let h: ReturnType<typeof voidLater>;
  const clock = manualClock(new Date('2026-03-15T12:00:00Z'));
  beforeAll(async () => {
    ({ db, direct, ak, h } = await openLostAnswerStore(clock));
  });
  afterAll(() => db.close());

  it('key: period removed (setBudget budgetPeriod null) before the void: the unavailable charge must not stay billed', async () => {
    clock.set('2026-03-15T12:00:00Z');
    const { key, id } = await direct.create({
      accountId: 'rm-period',
      budgetCents: 100,
      budgetPeriod: 'day',
    });
    const first = await h.lostThen(
      id,
      () => ak.authorize(key, { costCents: 60 }),
      async () => {
        expect(await direct.setBudget({ keyId: id }, { budgetCents: 100, budgetPeriod: null })).toBe(true);
      },
    );
    expect(first).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    const used = (await direct.getKey(id))!.budget.usedCents;
    const ledger = (await direct.spend({ keyId: id }, all)).totalCents;
    expect({ used, ledger }).toEqual({ used: 0, ledger: 0 });
  });

  it('key: period removed after it elapsed (the spend rolled to zero) before the void: the new spend keeps its cap', async () => {
    clock.set('2026-03-25T12:00:00Z');
    const { key, id } = await direct.create({
      accountId: 'rm-elapsed',
      budgetCents: 100,
      budgetPeriod: 'day',
    });
    await h.lostThen(
      id,
      () => ak.authorize(key, { costCents: 60 }),
      async () => {
        clock.set('2026-03-27T12:00:00Z');
        expect(await direct.setBudget({ keyId: id }, { budgetCents: 100, budgetPeriod: null })).toBe(true);
        expect(await direct.authorize(key, { costCents: 90 })).toMatchObject({ ok: true });
      },
    );
    const third = await direct.authorize(key, { costCents: 70 });
    const used = (await direct.getKey(id))!.budget.usedCents;
    expect({ third: third.ok, used }).toEqual({ third: false, used: 90 });
  });

  it('account: period removed after it elapsed before the void: the new spend keeps the ceiling', async () => {
    clock.set('2026-03-25T12:00:00Z');
    await direct.setAccountBudget('acct-rm-elapsed', { budgetCents: 100, budgetPeriod: 'day' });
    const { key, id } = await direct.create({ accountId: 'acct-rm-elapsed', budgetCents: null });
    await h.lostThen(
      id,
      () => ak.authorize(key, { costCents: 60 }),
      async () => {
        clock.set('2026-03-27T12:00:00Z');
        await direct.setAccountBudget('acct-rm-elapsed', { budgetCents: 100, budgetPeriod: null });
        expect(await direct.authorize(key, { costCents: 90 })).toMatchObject({ ok: true });
      },
    );
    const third = await direct.authorize(key, { costCents: 70 });
    const used = (await direct.getAccount('acct-rm-elapsed'))!.usedCents;
    expect({ third: third.ok, used }).toEqual({ third: false, used: 90 });
  });

  it('account: period removed before the void: the unavailable charge must not stay on the ceiling', async () => {
    clock.set('2026-03-15T12:00:00Z');
    await direct.setAccountBudget('acct-rm', { budgetCents: 100, budgetPeriod: 'month' });
    const { key, id } = await direct.create({ accountId: 'acct-rm', budgetCents: null });
    const first = await h.lostThen(
      id,
      () => ak.authorize(key, { costCents: 60 }),
      async () => {
        await direct.setAccountBudget('acct-rm', { budgetCents: 100, budgetPeriod: null });
      },
    );
    expect(first).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    const used = (await direct.getAccount('acct-rm'))!.usedCents;
    const ledger = (await direct.spend({ accountId: 'acct-rm' }, all)).totalCents;
    expect({ used, ledger }).toEqual({ used: 0, ledger: 0 });
  });

  it('key: period rolled, then an admin reset, then the void: ledger sums still equal the counter', async () => {
    clock.set('2026-04-01T12:00:00Z');
    const { key, id } = await direct.create({
      accountId: 'roll-reset',
      budgetCents: 100,
      budgetPeriod: 'day',
    });
    await h.lostThen(
      id,
      () => ak.authorize(key, { costCents: 60 }),
      async () => {
        clock.set('2026-04-03T12:00:00Z');
        expect(await direct.resetBudget({ keyId: id })).toBe(true);
      },
    );
    const used = (await direct.getKey(id))!.budget.usedCents;
    const ledger = (await direct.spend({ keyId: id }, all)).totalCents;
    const day1 = (
      await direct.spend(
        { keyId: id },
        { from: new Date('2026-04-01T00:00:00Z'), to: new Date('2026-04-02T00:00:00Z') },
      )
    ).totalCents;
    const rows = await h.q(
      `SELECT kind, amount_micros::float8 AS m FROM {T}_ledger WHERE principal_id = $1 ORDER BY id`,
      [id],
    );
    expect({ used, ledger, day1, rows: rows.map((r) => `${r.kind} ${r.m}`) }).toEqual({
      used: 0,
      ledger: 0,
      day1: 0,
      rows: ['admin:create 0', 'charge 600000', 'adjust 0', 'void -600000'],
    });
  });

  it('key: period changed day -> month before the void: counter and ledger agree', async () => {
    clock.set('2026-04-10T12:00:00Z');
    const { key, id } = await direct.create({
      accountId: 'chg-period',
      budgetCents: 100,
      budgetPeriod: 'day',
    });
    await h.lostThen(
      id,
      () => ak.authorize(key, { costCents: 60 }),
      async () => {
        expect(await direct.setBudget({ keyId: id }, { budgetCents: 100, budgetPeriod: 'month' })).toBe(true);
        expect(await direct.authorize(key, { costCents: 30 })).toMatchObject({ ok: true });
      },
    );
    const used = (await direct.getKey(id))!.budget.usedCents;
    const ledger = (await direct.spend({ keyId: id }, all)).totalCents;
    expect({ used, ledger }).toEqual({ used: 30, ledger: 30 });
  });
  it('account ledger vs counter after a key-only reset (no void involved)', async () => {
    clock.set('2026-05-01T12:00:00Z');
    await direct.setAccountBudget('acct-keyreset', { budgetCents: 100 });
    const { key, id } = await direct.create({ accountId: 'acct-keyreset', budgetCents: 100 });
    expect(await direct.authorize(key, { costCents: 60 })).toMatchObject({ ok: true });
    expect(await direct.resetBudget({ keyId: id })).toBe(true);
    const used = (await direct.getAccount('acct-keyreset'))!.usedCents;
    const ledger = (await direct.spend({ accountId: 'acct-keyreset' }, all)).totalCents;
    expect({ used, ledger }).toEqual({ used: 60, ledger: 60 });
  });

  it('pool parent: period removed before a child charge is voided: parent must not stay billed', async () => {
    clock.set('2026-05-02T12:00:00Z');
    const parent = await direct.create({ accountId: 'pool-rm', budgetCents: 100, budgetPeriod: 'day' });
    const child = await direct.create({ accountId: 'pool-rm', budgetCents: null, poolParentId: parent.id });
    await h.lostThen(
      child.id,
      () => ak.authorize(child.key, { costCents: 60 }),
      async () => {
        expect(await direct.setBudget({ keyId: parent.id }, { budgetCents: 100, budgetPeriod: null })).toBe(
          true,
        );
      },
    );
    const used = (await direct.getKey(parent.id))!.budget.usedCents;
    const ledger = (await direct.spend({ keyId: parent.id }, all)).totalCents;
    expect({ used, ledger }).toEqual({ used: 0, ledger: 0 });
  });
  for (const change of ['cleared', 'cleared-and-reset', 'set-new'] as const) {
    it(`account ceiling ${change} between charge and void: counters and ledgers agree`, async () => {
      clock.set('2026-05-10T12:00:00Z');
      const acct = `acct-${change}`;
      if (change !== 'set-new') await direct.setAccountBudget(acct, { budgetCents: 100 });
      const { key, id } = await direct.create({ accountId: acct, budgetCents: 100 });
      await h.lostThen(
        id,
        () => ak.authorize(key, { costCents: 60 }),
        async () => {
          if (change === 'set-new') await direct.setAccountBudget(acct, { budgetCents: 100 });
          else await direct.setAccountBudget(acct, { budgetCents: null });
          if (change === 'cleared-and-reset') await direct.setAccountBudget(acct, { budgetCents: 100 });
          expect(await direct.authorize(key, { costCents: 30 })).toMatchObject({ ok: true });
        },
      );
      const keyUsed = (await direct.getKey(id))!.budget.usedCents;
      const keyLedger = (await direct.spend({ keyId: id }, all)).totalCents;
      const account = await direct.getAccount(acct);
      const acctLedger = (await direct.spend({ accountId: acct }, all)).totalCents;
      expect({ keyUsed, keyLedger, acctUsed: account?.usedCents, acctLedger }).toEqual({
        keyUsed: 30,
        keyLedger: 30,
        acctUsed: change === 'cleared' ? account?.usedCents : 30,
        acctLedger: 30,
      });
    });
  }
  it('account ceiling cleared and set again (no period) before the void: the new ceiling never overspends', async () => {
    clock.set('2026-05-11T12:00:00Z');
    await direct.setAccountBudget('acct-reest', { budgetCents: 100 });
    const { key, id } = await direct.create({ accountId: 'acct-reest', budgetCents: null });
    await h.lostThen(
      id,
      () => ak.authorize(key, { costCents: 60 }),
      async () => {
        await direct.setAccountBudget('acct-reest', { budgetCents: null });
        await direct.setAccountBudget('acct-reest', { budgetCents: 100 });
        expect(await direct.authorize(key, { costCents: 90 })).toMatchObject({ ok: true });
      },
    );
    const third = await direct.authorize(key, { costCents: 70 });
    const used = (await direct.getAccount('acct-reest'))!.usedCents;
    expect({ third: third.ok, used }).toEqual({ third: false, used: 90 });
  });
  it('topUp and an account-only reset between charge and void: key and account ledgers equal their counters', async () => {
    clock.set('2026-05-12T12:00:00Z');
    await direct.setAccountBudget('acct-only', { budgetCents: 100, budgetPeriod: 'month' });
    const { key, id } = await direct.create({
      accountId: 'acct-only',
      budgetCents: 100,
      budgetPeriod: 'month',
    });
    await h.lostThen(
      id,
      () => ak.authorize(key, { costCents: 60 }),
      async () => {
        expect(await direct.topUp({ keyId: id }, 10)).toBe(true);
        expect(await direct.resetBudget({ accountId: 'acct-only' })).toBe(true);
        expect(await direct.authorize(key, { costCents: 30 })).toMatchObject({ ok: true });
      },
    );
    const month = { from: new Date('2026-05-12T00:00:00Z'), to: new Date('2026-06-12T00:00:00Z') };
    const keyUsed = (await direct.getKey(id))!.budget.usedCents;
    const acctUsed = (await direct.getAccount('acct-only'))!.usedCents;
    expect({
      keyUsed,
      keyLedger: (await direct.spend({ keyId: id }, month)).totalCents,
      acctUsed,
      acctLedger: (await direct.spend({ accountId: 'acct-only' }, month)).totalCents,
    }).toEqual({ keyUsed: 30, keyLedger: 30, acctUsed: 30, acctLedger: 30 });
  });
});
