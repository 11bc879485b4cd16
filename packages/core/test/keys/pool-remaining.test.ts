import type { AgentKey, AuthorizeResult, Budget } from '@agentkey/core';
import { BACKENDS, openStore, type TestDb } from '@agentkey/test-support/db.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * A pooled key's remaining budget is the lesser of its own and its pool root's, on every path:
 * validate, trackUsage, authorize (granted or refused), reserve, settle, getKey and listKeys. Its
 * limit, used and held stay its own row's.
 */
describe.each(BACKENDS)("a pooled key's remaining is bounded by its pool (%s)", (backend) => {
  let db: TestDb;
  let ak: AgentKey;
  let n = 0;
  beforeAll(async () => {
    ({ db, ak } = await openStore(backend));
  });
  afterAll(() => db.close());

  const pool = async (rootCents: number | null, childCents: number | null) => {
    const accountId = `acct_${++n}`;
    const root = await ak.create({ accountId, budgetCents: rootCents });
    const child = await ak.create({ accountId, budgetCents: childCents, poolParentId: root.id });
    return { accountId, root, child };
  };
  const nums = (b: Budget | undefined) =>
    b && { limit: b.limitCents, used: b.usedCents, held: b.heldCents, left: b.remainingCents };
  const budget = (r: AuthorizeResult) => nums((r as { budget?: Budget }).budget);
  const remaining = async (key: string) => {
    const v = await ak.validate(key);
    return v.valid ? v.budgetRemainingCents : v.reason;
  };

  it('the pool leaves less than the child: every path reports the pool', async () => {
    const { accountId, root, child } = await pool(100, 500);
    expect((await ak.trackUsage(root.key, { costCents: 90 })).success).toBe(true);
    expect(await remaining(child.key)).toBe(10);
    expect(await ak.trackUsage(child.key, { costCents: 1 })).toEqual({
      success: true,
      budgetUsedCents: 1,
      budgetRemainingCents: 9,
    });
    expect(budget(await ak.authorize(child.key, { costCents: 1 }))).toEqual({
      limit: 500,
      used: 2,
      held: 0,
      left: 8,
    });
    const hold = await ak.reserve(child.key, { maxCents: 5 });
    expect(budget(hold)).toEqual({ limit: 500, used: 2, held: 5, left: 3 });
    const settled = await ak.settle(hold.ok ? hold.hold!.id : '', { costCents: 2 });
    expect(nums(settled.ok ? settled.budget : undefined)).toEqual({ limit: 500, used: 4, held: 0, left: 6 });
    expect(nums((await ak.getKey(child.id))!.budget)).toEqual({ limit: 500, used: 4, held: 0, left: 6 });
    const listed = (await ak.listKeys(accountId)).find((k) => k.id === child.id);
    expect(nums(listed!.budget)).toEqual({ limit: 500, used: 4, held: 0, left: 6 });
    // The pool has used 90 + 4.
    expect(await remaining(child.key)).toBe(6);
  });

  it("the child's own cap leaves less than the pool: its own counts", async () => {
    const { root, child } = await pool(1000, 20);
    expect(await ak.trackUsage(child.key, { costCents: 5 })).toMatchObject({ budgetRemainingCents: 15 });
    expect(budget(await ak.authorize(child.key, { costCents: 1 }))).toMatchObject({ left: 14 });
    expect(nums((await ak.getKey(child.id))!.budget)).toMatchObject({ left: 14 });
    expect(await remaining(child.key)).toBe(14);
    expect(nums((await ak.getKey(root.id))!.budget)).toMatchObject({ used: 6, left: 994 });
  });

  it('an unlimited child reports its pool; null only when both are unlimited', async () => {
    const capped = await pool(100, null);
    expect(budget(await ak.authorize(capped.child.key, { costCents: 3 }))).toMatchObject({
      limit: null,
      left: 97,
    });
    expect(nums((await ak.getKey(capped.child.id))!.budget)).toMatchObject({ left: 97 });
    const open = await pool(null, null);
    expect(budget(await ak.authorize(open.child.key, { costCents: 3 }))).toMatchObject({ left: null });
    expect(await ak.trackUsage(open.child.key, { costCents: 1 })).toMatchObject({
      budgetRemainingCents: null,
    });
    expect(nums((await ak.getKey(open.child.id))!.budget)).toMatchObject({ left: null });
    expect(await remaining(open.child.key)).toBeNull();
  });

  it('refused by its spent pool, a child reports 0 left, not its own room', async () => {
    const { root, child } = await pool(100, 50);
    expect((await ak.authorize(root.key, { costCents: 100 })).ok).toBe(true);
    const refused = await ak.authorize(child.key, { costCents: 1 });
    expect({ code: !refused.ok && refused.error.code, budget: budget(refused) }).toEqual({
      code: 'budget_exceeded',
      budget: { limit: 50, used: 0, held: 0, left: 0 },
    });
  });
});
