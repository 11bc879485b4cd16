import type { AgentKey, AuthorizeResult, Budget } from '@agentkey/core';
import { manualClock, openStore, type TestDb } from '@agentkey/test-support/db.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const MIN = 60_000;

// Review: heldCents / remainingCents on pools, expired holds and account ceilings, on every path.
describe('held and remaining across pools and accounts', () => {
  let db: TestDb;
  let ak: AgentKey;
  const clock = manualClock();
  let n = 0;
  beforeAll(async () => {
    ({ db, ak } = await openStore('postgres', { now: clock.now }));
  });
  afterAll(() => db.close());

  const nums = (b: Budget | undefined) =>
    b && { used: b.usedCents, held: b.heldCents, left: b.remainingCents };
  const budget = (r: AuthorizeResult) => nums((r as { budget?: Budget }).budget);
  const validated = async (key: string) => {
    const v = await ak.validate(key);
    if (!v.valid) return v.reason;
    return { used: v.budgetUsedCents, left: v.budgetRemainingCents };
  };

  it("a pooled child's hold counts on its root, and stops counting at its TTL", async () => {
    const accountId = `pool_${++n}`;
    const root = await ak.create({ accountId, budgetCents: 100 });
    const child = await ak.create({ accountId, budgetCents: null, poolParentId: root.id });
    const hold = await ak.reserve(child.key, { maxCents: 30, ttl: '1m' });
    expect(hold.ok).toBe(true);
    expect(nums((await ak.getKey(root.id))!.budget)).toEqual({ used: 0, held: 30, left: 70 });
    expect(await validated(root.key)).toEqual({ used: 0, left: 70 });
    expect(await validated(child.key)).toEqual({ used: 0, left: 70 });
    // Lean path on the root (no pool parent, no account cap).
    expect(budget(await ak.authorize(root.key, { costCents: 1 }))).toEqual({ used: 1, held: 30, left: 69 });

    clock.advance(2 * MIN);
    expect(nums((await ak.getKey(root.id))!.budget)).toEqual({ used: 1, held: 0, left: 99 });
    expect(await validated(root.key)).toEqual({ used: 1, left: 99 });
    expect(await validated(child.key)).toEqual({ used: 0, left: 99 });
    expect(budget(await ak.authorize(root.key, { costCents: 1 }))).toEqual({ used: 2, held: 0, left: 98 });
    // The child's charge (engine): its own row is unlimited, but the pool has 98 left.
    const charged = await ak.authorize(child.key, { costCents: 1 });
    expect(charged.ok).toBe(true);
    expect({ child: budget(charged), validate: await validated(child.key) }).toEqual({
      child: { used: 1, held: 0, left: 97 },
      validate: { used: 1, left: 97 },
    });
  });

  it('account ceiling: held and remaining across keys, lean/engine, and after expiry', async () => {
    const accountId = `acct_${++n}`;
    await ak.setAccountBudget(accountId, { budgetCents: 100 });
    const a = await ak.create({ accountId, budgetCents: 1000 });
    const b = await ak.create({ accountId, budgetCents: 1000 });
    expect((await ak.reserve(a.key, { maxCents: 40, ttl: '1m' })).ok).toBe(true);
    const acct = await ak.getAccount(accountId);
    expect({ held: acct!.heldCents, left: acct!.remainingCents }).toEqual({ held: 40, left: 60 });
    const charged = await ak.authorize(b.key, { costCents: 1 });
    expect(nums((charged as { account?: Budget }).account)).toEqual({ used: 1, held: 40, left: 59 });
    const idem = await ak.authorize(b.key, { costCents: 1, idempotencyKey: 'i1' });
    expect(nums((idem as { account?: Budget }).account)).toEqual({ used: 2, held: 40, left: 58 });
    clock.advance(2 * MIN);
    const after = await ak.getAccount(accountId);
    expect({ held: after!.heldCents, left: after!.remainingCents }).toEqual({ held: 0, left: 98 });
    const later = await ak.authorize(b.key, { costCents: 1 });
    expect(nums((later as { account?: Budget }).account)).toEqual({ used: 3, held: 0, left: 97 });
    // A 97-cent charge now fits exactly.
    expect((await ak.authorize(b.key, { costCents: 97 })).ok).toBe(true);
    expect((await ak.authorize(a.key, { costCents: 1 })).ok).toBe(false);
  });

  it('an expired hold on a lean key no longer blocks a charge nor shows as held', async () => {
    const k = await ak.create({ accountId: `lean_${++n}`, budgetCents: 100 });
    expect((await ak.reserve(k.key, { maxCents: 100, ttl: '1m' })).ok).toBe(true);
    expect(await validated(k.key)).toEqual({ used: 0, left: 0 });
    expect(await ak.trackUsage(k.key, { costCents: 1 })).toEqual({
      success: false,
      reason: 'budget_exceeded',
    });
    clock.advance(2 * MIN);
    expect(await validated(k.key)).toEqual({ used: 0, left: 100 });
    expect(await ak.trackUsage(k.key, { costCents: 10 })).toEqual({
      success: true,
      budgetUsedCents: 10,
      budgetRemainingCents: 90,
    });
    expect(budget(await ak.authorize(k.key, { costCents: 90 }))).toEqual({ used: 100, held: 0, left: 0 });
  });

  it('pooled child: trackUsage and getKey report what the pool leaves, as validate does', async () => {
    const accountId = `pool_${++n}`;
    const root = await ak.create({ accountId, budgetCents: 100 });
    const child = await ak.create({ accountId, budgetCents: 500, poolParentId: root.id });
    expect((await ak.trackUsage(root.key, { costCents: 90 })).success).toBe(true);
    const v = await validated(child.key);
    const t = await ak.trackUsage(child.key, { costCents: 1 });
    const info = nums((await ak.getKey(child.id))!.budget);
    expect({ validate: v, track: t, getKey: info }).toEqual({
      validate: { used: 0, left: 10 },
      track: { success: true, budgetUsedCents: 1, budgetRemainingCents: 9 },
      getKey: { used: 1, held: 0, left: 9 },
    });
  });

  it("a revoked child's expired, never-swept hold does not keep counting on its root", async () => {
    const accountId = `pool_${++n}`;
    const root = await ak.create({ accountId, budgetCents: 100 });
    const child = await ak.create({ accountId, poolParentId: root.id });
    expect((await ak.reserve(child.key, { maxCents: 60, ttl: '1m' })).ok).toBe(true);
    await ak.revoke(child.id);
    clock.advance(2 * MIN);
    const a = await ak.authorize(root.key, { costCents: 50 });
    const b = await ak.authorize(root.key, { costCents: 50 });
    const stored = (
      await db.pool.query(`SELECT held_micros::int AS h FROM ${db.table} WHERE id = $1`, [root.id])
    ).rows[0].h;
    expect({ a: budget(a), b: budget(b), v: await validated(root.key), storedHeld: stored }).toEqual({
      a: { used: 50, held: 0, left: 50 },
      b: { used: 100, held: 0, left: 0 },
      v: 'budget_exceeded',
      storedHeld: 600000,
    });
  });

  it("after a revoked child's hold expires unswept, each root charge costs one round trip", async () => {
    const { AgentKey } = await import('@agentkey/core');
    let queries = 0;
    const counted = new AgentKey({
      pool: {
        query: (text: string, params?: unknown[]) => {
          queries++;
          return db.pool.query(text, params);
        },
      } as never,
      tableName: db.table,
      now: clock.now,
    });
    const accountId = `pool_${++n}`;
    const root = await counted.create({ accountId, budgetCents: 1000 });
    const child = await counted.create({ accountId, poolParentId: root.id });
    queries = 0;
    await counted.authorize(root.key, { costCents: 1 });
    const before = queries;
    expect((await counted.reserve(child.key, { maxCents: 60, ttl: '1m' })).ok).toBe(true);
    await counted.revoke(child.id);
    clock.advance(2 * MIN);
    queries = 0;
    await counted.authorize(root.key, { costCents: 1 });
    await counted.authorize(root.key, { costCents: 1 });
    expect({ before, after: queries / 2 }).toEqual({ before: 1, after: 1 });
  });

  it("validate of a pooled child: one statement, and its root's elapsed period counts as fresh", async () => {
    const { AgentKey } = await import('@agentkey/core');
    let queries = 0;
    const counted = new AgentKey({
      pool: {
        query: (text: string, params?: unknown[]) => {
          queries++;
          return db.pool.query(text, params);
        },
      } as never,
      tableName: db.table,
      now: clock.now,
    });
    const accountId = `pool_${++n}`;
    const root = await counted.create({ accountId, budgetCents: 100, budgetPeriod: 'day' });
    const child = await counted.create({ accountId, poolParentId: root.id });
    expect((await counted.trackUsage(root.key, { costCents: 100 })).success).toBe(true);
    await counted.validate(child.key);
    queries = 0;
    const spent = await counted.validate(child.key);
    const one = queries;
    clock.advance(86_400_000 + 1);
    const fresh = await counted.validate(child.key);
    expect({ spent, one, fresh: fresh.valid && fresh.budgetRemainingCents }).toEqual({
      spent: { valid: false, reason: 'budget_exceeded' },
      one: 1,
      fresh: 100,
    });
  });

  it('a pooled child refused by its spent pool reports remaining > 0 (or null)', async () => {
    const accountId = `pool_${++n}`;
    const root = await ak.create({ accountId, budgetCents: 100 });
    const child = await ak.create({ accountId, poolParentId: root.id });
    const capped = await ak.create({ accountId, budgetCents: 50, poolParentId: root.id });
    expect((await ak.authorize(root.key, { costCents: 100 })).ok).toBe(true);
    const a = await ak.authorize(child.key, { costCents: 1 });
    const b = await ak.authorize(capped.key, { costCents: 1 });
    expect({
      a: [!a.ok && a.error.code, budget(a)?.left],
      b: [!b.ok && b.error.code, budget(b)?.left],
    }).toEqual({ a: ['budget_exceeded', 0], b: ['budget_exceeded', 0] });
  });
});
