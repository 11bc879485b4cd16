import { type AgentKey, AgentKeyInputError, MAX_BUDGET_CENTS } from '@agentkey/core';
import { BACKENDS, manualClock, openStore, type TestDb } from '@agentkey/test-support/db.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Budget admin against periods and pools (budget/admin.ts, sql/admin.ts): whatever an admin does,
 * the ledger for the current period keeps equalling the counter, and no cap is escaped.
 */
describe.each(BACKENDS)('budget admin, periods and pools (%s)', (backend) => {
  let db: TestDb;
  let ak: AgentKey;
  const clock = manualClock(new Date('2026-06-01T12:00:00Z'));
  beforeAll(async () => {
    ({ db, ak } = await openStore(backend, { now: clock.now }));
  });
  afterAll(() => db.close());
  const at = (iso: string) => clock.set(iso);
  const between = (from: string, to: string) => ({ from: new Date(from), to: new Date(to) });
  const used = async (id: number) => (await ak.getKey(id))!.budget.usedCents;

  it('a reset after the period rolled zeroes only the new period, whose ledger still equals the counter', async () => {
    at('2026-06-01T12:00:00Z');
    const { key, id } = await ak.create({ accountId: 'roll', budgetCents: 100, budgetPeriod: 'day' });
    expect(await ak.authorize(key, { costCents: 40 })).toMatchObject({ ok: true });
    at('2026-06-02T13:00:00Z'); // the day rolled at 12:00; nothing touched the row since
    expect(await ak.resetBudget({ keyId: id })).toBe(true);
    expect(await ak.authorize(key, { costCents: 10 })).toMatchObject({ ok: true, budget: { usedCents: 10 } });
    const today = between('2026-06-02T12:00:00Z', '2026-06-03T12:00:00Z');
    expect(await ak.spend({ keyId: id }, today)).toEqual({ totalCents: 10 });
    // Yesterday keeps its own spend: the reset did not reach back into it.
    expect(await ak.spend({ keyId: id }, between('2026-06-01T12:00:00Z', '2026-06-02T12:00:00Z'))).toEqual({
      totalCents: 40,
    });
  });

  it("an account's reset after its period rolled leaves the new period's spend alone", async () => {
    at('2026-06-01T12:00:00Z');
    await ak.setAccountBudget('roll-acct', { budgetCents: 100, budgetPeriod: 'day' });
    const { key } = await ak.create({ accountId: 'roll-acct' });
    expect(await ak.authorize(key, { costCents: 60 })).toMatchObject({ ok: true });
    at('2026-06-02T13:00:00Z');
    expect(await ak.resetBudget({ accountId: 'roll-acct' })).toBe(true);
    expect(await ak.getAccount('roll-acct')).toMatchObject({
      usedCents: 0,
      resetAt: new Date('2026-06-03T12:00:00Z'),
    });
    expect(await ak.authorize(key, { costCents: 90 })).toMatchObject({
      ok: true,
      account: { usedCents: 90 },
    });
    expect(
      await ak.spend({ accountId: 'roll-acct' }, between('2026-06-02T12:00:00Z', '2026-06-03T12:00:00Z')),
    ).toEqual({ totalCents: 90 });
  });

  it('setting the same period keeps it; a new period starts now, from zero, and its ledger equals the counter', async () => {
    at('2026-06-01T12:00:00Z');
    const { key, id } = await ak.create({ accountId: 'period', budgetCents: 100, budgetPeriod: 'day' });
    expect(await ak.authorize(key, { costCents: 90 })).toMatchObject({ ok: true });
    at('2026-06-01T18:00:00Z');
    // The same period: the day is not restarted (nor extended), and today's 90 ¢ still count.
    expect(await ak.setBudget({ keyId: id }, { budgetCents: 120, budgetPeriod: 'day' })).toBe(true);
    expect(await ak.getKey(id)).toMatchObject({
      budget: { usedCents: 90, resetAt: new Date('2026-06-02T12:00:00Z') },
    });
    at('2026-06-02T13:00:00Z'); // a new day: yesterday's 90 ¢ no longer count
    expect(await ak.setBudget({ keyId: id }, { budgetCents: 100, budgetPeriod: 'day' })).toBe(true);
    expect(await ak.authorize(key, { costCents: 20 })).toMatchObject({ ok: true, budget: { usedCents: 20 } });
    // Another period starts a new one at once, from zero.
    at('2026-06-02T14:00:00Z');
    expect(await ak.update(id, { budgetPeriod: 'week' })).toMatchObject({
      budget: { usedCents: 0, period: 'week', resetAt: new Date('2026-06-09T14:00:00Z') },
    });
    expect(await ak.authorize(key, { costCents: 5 })).toMatchObject({ ok: true, budget: { usedCents: 5 } });
    expect(await ak.spend({ keyId: id }, between('2026-06-02T14:00:00Z', '2026-06-09T14:00:00Z'))).toEqual({
      totalCents: 5,
    });
    // No period any more: the spend of the period in force stays, as the fixed budget's.
    expect(await ak.update(id, { budgetPeriod: null })).toMatchObject({
      budget: { usedCents: 5, period: null, resetAt: null },
    });
  });

  it('setting the period of a row that has one but no reset date (hand-written SQL) gives it one', async () => {
    at('2026-06-01T12:00:00Z');
    const { id } = await ak.create({ accountId: 'repair', budgetCents: 100 });
    await db.pool.query(
      `UPDATE ${db.table} SET budget_period = 'day', budget_reset_at = NULL WHERE id = $1`,
      [id],
    );
    expect(await ak.update(id, { budgetPeriod: 'day' })).toMatchObject({
      budget: { period: 'day', resetAt: new Date('2026-06-02T12:00:00Z') },
    });
    await ak.setAccountBudget('repair', { budgetCents: 100, budgetPeriod: 'day' });
    await db.pool.query(`UPDATE ${db.table}_accounts SET budget_reset_at = NULL WHERE account_id = 'repair'`);
    await ak.setAccountBudget('repair', { budgetCents: 100, budgetPeriod: 'day' });
    expect(await ak.getAccount('repair')).toMatchObject({ resetAt: new Date('2026-06-02T12:00:00Z') });
  });

  it('a weekly budget rolls after seven days, not before', async () => {
    at('2026-06-01T00:00:00Z');
    const { key } = await ak.create({ accountId: 'weekly', budgetCents: 10, budgetPeriod: 'week' });
    expect(await ak.authorize(key, { costCents: 10 })).toMatchObject({ ok: true });
    at('2026-06-07T23:59:59Z');
    expect(await ak.authorize(key, { costCents: 1 })).toMatchObject({
      ok: false,
      error: { code: 'budget_exceeded', retryAfterSec: 1 },
    });
    at('2026-06-08T00:00:00Z');
    expect(await ak.authorize(key, { costCents: 1 })).toMatchObject({
      ok: true,
      budget: { usedCents: 1, resetAt: new Date('2026-06-15T00:00:00Z') },
    });
  });

  it("a pool parent's spend counts its children's charges and equals its counter, through resets of either", async () => {
    at('2026-06-01T12:00:00Z');
    const parent = await ak.create({ accountId: 'pool', budgetCents: 100 });
    const child = await ak.create({ accountId: 'pool', poolParentId: parent.id });
    const held = await ak.reserve(child.key, { maxCents: 5 });
    await ak.settle(held.ok ? held.hold!.id : '0', { costCents: 4 });
    expect(await ak.authorize(child.key, { costCents: 7 })).toMatchObject({ ok: true });
    expect(await ak.authorize(parent.key, { costCents: 3 })).toMatchObject({ ok: true });
    const all = between('2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z');
    expect([await used(parent.id), (await ak.spend({ keyId: parent.id }, all)).totalCents]).toEqual([14, 14]);
    expect([await used(child.id), (await ak.spend({ keyId: child.id }, all)).totalCents]).toEqual([11, 11]);
    // The child's own reset frees only its own cap: the pool still carries what it drew.
    await ak.resetBudget({ keyId: child.id });
    expect([await used(child.id), (await ak.spend({ keyId: child.id }, all)).totalCents]).toEqual([0, 0]);
    expect([await used(parent.id), (await ak.spend({ keyId: parent.id }, all)).totalCents]).toEqual([14, 14]);
    await ak.resetBudget({ keyId: parent.id });
    expect([await used(parent.id), (await ak.spend({ keyId: parent.id }, all)).totalCents]).toEqual([0, 0]);
  });

  it('a top-up past the largest cap is refused by name, and changes nothing (key and account)', async () => {
    const { id } = await ak.create({ accountId: 'topmax', budgetCents: MAX_BUDGET_CENTS - 5 });
    await ak.setAccountBudget('topmax', { budgetCents: MAX_BUDGET_CENTS - 5 });
    for (const target of [{ keyId: id }, { accountId: 'topmax' }]) {
      const refused = await ak.topUp(target, 6).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(AgentKeyInputError);
      expect(refused).toMatchObject({
        field: 'cents',
        message: expect.stringContaining(`${MAX_BUDGET_CENTS}`),
      });
      // Up to the largest cap still works.
      expect(await ak.topUp(target, 5)).toBe(true);
    }
    expect((await ak.getKey(id))!.budget.limitCents).toBe(MAX_BUDGET_CENTS);
    expect((await ak.getAccount('topmax'))!.limitCents).toBe(MAX_BUDGET_CENTS);
  });

  it('getKey names the pool root a key draws on, and null for a key with its own pool', async () => {
    const root = await ak.create({ accountId: 'pool-info', budgetCents: 100 });
    const child = await ak.create({ accountId: 'pool-info', poolParentId: root.id });
    const grandchild = await ak.create({ accountId: 'pool-info', poolParentId: child.id });
    expect((await ak.getKey(root.id))!.poolParentId).toBeNull();
    expect((await ak.getKey(child.id))!.poolParentId).toBe(root.id);
    expect((await ak.getKey(grandchild.id))!.poolParentId).toBe(root.id);
    expect((await ak.listKeys('pool-info')).map((k) => k.poolParentId)).toEqual([null, root.id, root.id]);
  });

  it("a subject's spend, and a subject's pooled children's, read the same way", async () => {
    at('2026-06-01T12:00:00Z');
    await ak.ensureSubject('https://idp.example|bot-7', { accountId: 'subj', budgetCents: 50 });
    const parent = (await ak.getSubject('https://idp.example|bot-7'))!;
    const child = await ak.create({ accountId: 'subj', poolParentId: parent.id });
    expect(await ak.authorize({ subject: 'https://idp.example|bot-7' }, { costCents: 2.5 })).toMatchObject({
      ok: true,
    });
    expect(await ak.authorize(child.key, { costCents: 1 })).toMatchObject({ ok: true });
    const all = between('2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z');
    expect(await ak.spend({ subject: 'https://idp.example|bot-7' }, all)).toEqual({ totalCents: 3.5 });
    expect(await ak.spend({ subject: 'https://idp.example|nobody' }, all)).toEqual({ totalCents: 0 });
  });

  it("a refusal by the pool parent's periodic cap says when the pool resets", async () => {
    at('2026-06-01T12:00:00Z');
    const parent = await ak.create({ accountId: 'pool-retry', budgetCents: 10, budgetPeriod: 'day' });
    const child = await ak.create({ accountId: 'pool-retry', poolParentId: parent.id });
    expect(await ak.authorize(child.key, { costCents: 11 })).toMatchObject({
      ok: false,
      error: { code: 'budget_exceeded', cap: 'key', retryAfterSec: 86_400 },
    });
  });

  it("a pooled child stays in its parent's account, so the account's ceiling always applies", async () => {
    await ak.setAccountBudget('pool-a', { budgetCents: 10 });
    const parent = await ak.create({ accountId: 'pool-a', budgetCents: 100 });
    await expect(ak.create({ accountId: 'pool-b', poolParentId: parent.id })).rejects.toThrow(
      AgentKeyInputError,
    );
    await expect(ak.create({ accountId: 'pool-b', poolParentId: parent.id })).rejects.toThrow(
      /pooled child must be in its parent's account/,
    );
    const child = await ak.create({ accountId: 'pool-a', poolParentId: parent.id });
    expect(await ak.authorize(child.key, { costCents: 50 })).toMatchObject({
      ok: false,
      error: { code: 'budget_exceeded', cap: 'account' },
    });
  });
});
