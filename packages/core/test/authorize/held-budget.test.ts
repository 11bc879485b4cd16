import type { AgentKey, AuthorizeResult, Budget, SettleResult } from '@agentkey/core';
import { BACKENDS, manualClock, openStore, type TestDb } from '@agentkey/test-support/db.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../../src/keys/secret.js';

/**
 * What a budget report says is left is what a new call could really use: a call is admitted only
 * while used + held + its cost fits, so open holds come off `remainingCents` (and are shown as
 * `heldCents`) on every path — lean statements, batched statements, the engine, validate and admin
 * reads — and stop counting when they are settled, released or expire.
 */
describe.each(BACKENDS)('remaining budget counts open holds (%s)', (backend) => {
  let db: TestDb;
  let ak: AgentKey;
  const clock = manualClock();
  beforeAll(async () => {
    ({ db, ak } = await openStore(backend, { now: clock.now }));
  });
  afterAll(() => db.close());

  const budgetOf = (r: AuthorizeResult | SettleResult): Budget => {
    if (!r.ok && !('budget' in r && r.budget)) throw new Error(`no budget in ${JSON.stringify(r)}`);
    return (r as { budget: Budget }).budget;
  };
  const numbers = (b: Budget | undefined) =>
    b && { used: b.usedCents, held: b.heldCents, left: b.remainingCents };
  /** How many statements wrote `key`'s ledger rows of `kind`: fewer than rows means they were batched. */
  const statements = async (key: string, kind: string) =>
    (
      await db.pool.query(
        `SELECT count(DISTINCT l.xmin::text)::int AS n FROM ${db.table}_ledger l JOIN ${db.table} k
          ON k.id = l.principal_id WHERE k.key_hash = $1 AND l.kind = $2`,
        [hashKey(key), kind],
      )
    ).rows[0].n as number;
  const validated = async (key: string) => {
    const v = await ak.validate(key);
    if (!v.valid) throw new Error(`not valid: ${v.reason}`);
    return { used: v.budgetUsedCents, left: v.budgetRemainingCents };
  };

  it('a 50 hold on a cap of 100 leaves 50, and the numbers follow settle, release and expiry', async () => {
    const { key, id } = await ak.create({ accountId: 'held', budgetCents: 100 });
    const reserved = await ak.reserve(key, { maxCents: 50, ttl: '5m' });
    expect(numbers(budgetOf(reserved))).toEqual({ used: 0, held: 50, left: 50 });
    expect(await validated(key)).toEqual({ used: 0, left: 50 });
    expect(numbers((await ak.getKey(id))!.budget)).toEqual({ used: 0, held: 50, left: 50 });

    // A lean charge, a free call (the engine), an idempotent one (the engine) and 0.2.0's trackUsage.
    expect(numbers(budgetOf(await ak.authorize(key, { costCents: 1 })))).toEqual({
      used: 1,
      held: 50,
      left: 49,
    });
    expect(numbers(budgetOf(await ak.authorize(key)))).toEqual({ used: 1, held: 50, left: 49 });
    const idem = await ak.authorize(key, { costCents: 1, idempotencyKey: 'once' });
    expect(numbers(budgetOf(idem))).toEqual({ used: 2, held: 50, left: 48 });
    expect(await ak.trackUsage(key, { costCents: 1 })).toEqual({
      success: true,
      budgetUsedCents: 3,
      budgetRemainingCents: 47,
    });
    // Refused because the hold leaves too little: the refusal says so too.
    const refused = await ak.authorize(key, { costCents: 48 });
    expect(refused).toMatchObject({ ok: false, error: { code: 'budget_exceeded' } });
    expect(numbers(budgetOf(refused))).toEqual({ used: 3, held: 50, left: 47 });

    const settled = await ak.settle(reserved.ok ? reserved.hold!.id : '', { costCents: 20 });
    expect(numbers(budgetOf(settled))).toEqual({ used: 23, held: 0, left: 77 });
    expect(await validated(key)).toEqual({ used: 23, left: 77 });

    const second = await ak.authorize(key, { holdCents: 30 });
    expect(numbers(budgetOf(second))).toEqual({ used: 23, held: 30, left: 47 });
    const released = await ak.release(second.ok ? second.hold!.id : '');
    expect(numbers(budgetOf(released))).toEqual({ used: 23, held: 0, left: 77 });

    // A hold past its TTL stops counting at once, before any call has swept it.
    const third = await ak.reserve(key, { maxCents: 40, ttl: '1m' });
    expect(numbers(budgetOf(third))).toEqual({ used: 23, held: 40, left: 37 });
    clock.advance(2 * 60_000);
    expect(await validated(key)).toEqual({ used: 23, left: 77 });
    expect(numbers((await ak.getKey(id))!.budget)).toEqual({ used: 23, held: 0, left: 77 });
    expect(numbers(budgetOf(await ak.authorize(key, { costCents: 1 })))).toEqual({
      used: 24,
      held: 0,
      left: 76,
    });
    expect(numbers(budgetOf(await ak.authorize(key, { costCents: 76 })))).toEqual({
      used: 100,
      held: 0,
      left: 0,
    });
  });

  it("an account ceiling's numbers count its keys' holds, in authorize, settle and getAccount", async () => {
    await ak.setAccountBudget('ceiling', { budgetCents: 200 });
    const { key } = await ak.create({ accountId: 'ceiling', budgetCents: 100 });
    const other = await ak.create({ accountId: 'ceiling' });
    const held = await ak.reserve(other.key, { maxCents: 70 });
    expect(numbers(held.ok ? held.account : undefined)).toEqual({ used: 0, held: 70, left: 130 });
    const charged = await ak.authorize(key, { costCents: 5 }); // key and account in one lean statement
    expect(numbers(budgetOf(charged))).toEqual({ used: 5, held: 0, left: 95 });
    expect(numbers(charged.ok ? charged.account : undefined)).toEqual({ used: 5, held: 70, left: 125 });
    expect(await ak.getAccount('ceiling')).toMatchObject({
      usedCents: 5,
      heldCents: 70,
      remainingCents: 125,
    });
    const together = await Promise.all(Array.from({ length: 8 }, () => ak.authorize(key, { costCents: 1 })));
    for (const r of together) {
      const account = r.ok ? r.account : undefined;
      expect(account).toMatchObject({ heldCents: 70 });
      expect(account!.remainingCents).toBe(200 - account!.usedCents - 70);
    }
    expect(await statements(key, 'charge')).toBeLessThan(9);
    const settled = await ak.settle(held.ok ? held.hold!.id : '', { costCents: 10 });
    expect(numbers(settled.ok ? settled.account : undefined)).toEqual({ used: 23, held: 0, left: 177 });
    expect(await ak.getAccount('ceiling')).toMatchObject({
      usedCents: 23,
      heldCents: 0,
      remainingCents: 177,
    });
  });

  it("a pool parent's numbers count its pooled children's holds", async () => {
    const parent = await ak.create({ accountId: 'pool', budgetCents: 100 });
    const child = await ak.create({ accountId: 'pool', poolParentId: parent.id });
    const held = await ak.reserve(child.key, { maxCents: 30 });
    // The child's own row is unlimited; what it could use is what its pool leaves.
    expect(numbers(budgetOf(held))).toEqual({ used: 0, held: 30, left: 70 });
    expect(await validated(parent.key)).toEqual({ used: 0, left: 70 });
    expect(numbers(budgetOf(await ak.authorize(parent.key, { costCents: 1 })))).toEqual({
      used: 1,
      held: 30,
      left: 69,
    });
  });

  it('calls sharing a batched statement each report the holds left on their key', async () => {
    const { key } = await ak.create({ accountId: 'batched', budgetCents: 1000 });
    const holds = await Promise.all(Array.from({ length: 8 }, () => ak.reserve(key, { maxCents: 10 })));
    for (const r of holds) {
      const b = budgetOf(r);
      expect(b.heldCents % 10).toBe(0);
      expect(b.remainingCents).toBe(1000 - b.usedCents - b.heldCents);
    }
    expect(await validated(key)).toEqual({ used: 0, left: 920 });
    const charges = await Promise.all(Array.from({ length: 8 }, () => ak.authorize(key, { costCents: 1 })));
    for (const r of charges) expect(numbers(budgetOf(r))).toMatchObject({ held: 80 });
    const settles = await Promise.all(holds.map((r) => ak.settle(r.ok ? r.hold!.id : '', { costCents: 5 })));
    for (const r of settles) {
      const b = budgetOf(r);
      expect(b.remainingCents).toBe(1000 - b.usedCents - b.heldCents);
    }
    expect(await validated(key)).toEqual({ used: 48, left: 952 });
    // The batch statements (reserve, charge, settle) were among the paths taken.
    for (const kind of ['hold', 'charge', 'settle']) expect(await statements(key, kind)).toBeLessThan(8);
  });
});
