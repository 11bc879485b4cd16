import { AgentKey } from '@agentkey/core';
import { recordingPool, type TestCounter, testCounter } from '@agentkey/test-support/counter.js';
import { manualClock, openDb, STRESS_TIMEOUT_MS, type TestDb } from '@agentkey/test-support/db.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

let db: TestDb;
let tc: TestCounter;
let pool: ReturnType<typeof recordingPool>;
let ak: AgentKey;

beforeEach(async () => {
  db = await openDb();
  // A lease longer than any test: what a refusal costs is measured, not the lease running out.
  tc = testCounter(undefined, { trustMs: 60_000 });
  pool = recordingPool(db.pool);
  ak = new AgentKey({ pool, tableName: db.table, timeoutMs: STRESS_TIMEOUT_MS, counter: tc.counter });
  await ak.migrate();
});

afterEach(async () => {
  tc.close();
  await db.close();
});

/** Statements `work` sent to PostgreSQL. */
async function statementsOf(work: () => Promise<unknown>): Promise<number> {
  const before = pool.statements;
  await work();
  return pool.statements - before;
}

/** Calls until a mirror is built and trusted (a fresh process trusts nothing it did not build). */
async function warm(key: string, options = {}) {
  for (let i = 0; i < 3; i++) await ak.authorize(key, options);
}

const ledgerSum = async (id: number) =>
  Number(
    (
      await db.pool.query(
        `SELECT COALESCE(sum(amount_micros), 0) AS s FROM ${db.table}_ledger WHERE principal_id = $1 AND kind = 'charge'`,
        [id],
      )
    ).rows[0].s,
  );

describe('redisCounter: admission, commit, refusals', () => {
  it('a spent key is refused from Redis with no PostgreSQL statement at all', async () => {
    const { key } = await ak.create({ accountId: 'acct', budgetCents: 10 });
    expect((await ak.authorize(key, { costCents: 10 })).ok).toBe(true);
    const fromPostgres = await ak.authorize(key, { costCents: 1 });
    await warm(key, { costCents: 1 });
    expect(await ak.authorize(key, { costCents: 1 })).toEqual(fromPostgres);
    const sent = await statementsOf(async () => {
      for (let i = 0; i < 50; i++) {
        const r = await ak.authorize(key, { costCents: 1 });
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.error.code).toBe('budget_exceeded');
      }
    });
    expect(sent).toBe(0);
  });

  it('refuses a revoked key from Redis once revoke() has invalidated the mirror', async () => {
    const { key, id } = await ak.create({ accountId: 'acct', budgetCents: 100 });
    await warm(key, { costCents: 1 });
    await ak.revoke(id);
    let fromPostgres: unknown;
    expect(
      await statementsOf(async () => (fromPostgres = await ak.authorize(key, { costCents: 1 }))),
    ).toBeGreaterThan(0);
    expect(fromPostgres).toMatchObject({ ok: false, error: { reason: 'revoked' } });
    await warm(key, { costCents: 1 });
    let fromRedis: unknown;
    expect(await statementsOf(async () => (fromRedis = await ak.authorize(key, { costCents: 1 })))).toBe(0);
    // The same answer, principal and numbers included, as PostgreSQL's.
    expect(fromRedis).toEqual(fromPostgres);
  });

  it('refuses a missing scope from Redis, and admin passes it', async () => {
    const { key } = await ak.create({ accountId: 'acct', scopes: ['read'], budgetCents: 100 });
    const { key: admin } = await ak.create({ accountId: 'acct', scopes: ['admin'], budgetCents: 100 });
    await warm(key, { scope: 'read' });
    await warm(admin, { scope: 'write' });
    const sent = await statementsOf(async () => {
      const r = await ak.authorize(key, { scope: 'write' });
      expect(r.ok === false && r.error.code).toBe('insufficient_scope');
    });
    expect(sent).toBe(0);
    expect((await ak.authorize(admin, { scope: 'write', costCents: 1 })).ok).toBe(true);
  });

  it('commits each charge into the mirror from PostgreSQL: the ledger, the row and Redis agree', async () => {
    const { key, id } = await ak.create({ accountId: 'acct', budgetCents: 1000 });
    await warm(key);
    for (let i = 0; i < 20; i++) expect((await ak.authorize(key, { costCents: 2.5 })).ok).toBe(true);
    const info = await ak.getKey(id);
    expect(info?.budget.usedCents).toBe(50);
    expect(await ledgerSum(id)).toBe(50 * 10_000);
    const mirror = await tc.redis.hget(`${tc.prefix}{acct}:${db.table}:k:${id}`, 'used');
    expect(Number(mirror)).toBe(50 * 10_000);
  });

  it('a topUp re-opens a key the mirror had refused', async () => {
    const { key, id } = await ak.create({ accountId: 'acct', budgetCents: 5 });
    expect((await ak.authorize(key, { costCents: 5 })).ok).toBe(true);
    await warm(key, { costCents: 1 });
    await ak.topUp({ keyId: id }, 10);
    expect((await ak.authorize(key, { costCents: 1 })).ok).toBe(true);
  });

  it('an idempotent repeat on a key spent since replays (never a budget refusal), charging once', async () => {
    const { key, id } = await ak.create({ accountId: 'acct', budgetCents: 10 });
    await warm(key);
    const first = await ak.authorize(key, { costCents: 10, idempotencyKey: 'once' });
    expect(first.ok).toBe(true);
    await warm(key, { costCents: 1 });
    const again = await ak.authorize(key, { costCents: 10, idempotencyKey: 'once' });
    expect(again.ok && again.replayed).toBe(true);
    expect(await ledgerSum(id)).toBe(10 * 10_000);
  });

  it('holds count against the mirror; settle and release free them', async () => {
    const { key, id } = await ak.create({ accountId: 'acct', budgetCents: 10 });
    await warm(key);
    const held = await ak.reserve(key, { maxCents: 8 });
    expect(held.ok).toBe(true);
    await warm(key, { costCents: 3 });
    const sent = await statementsOf(async () => {
      const r = await ak.authorize(key, { costCents: 3 });
      expect(r.ok === false && r.error.code).toBe('budget_exceeded');
    });
    expect(sent).toBe(0);
    if (!held.ok || !held.hold) throw new Error('no hold');
    expect((await ak.settle(held.hold.id, { costCents: 5 })).ok).toBe(true);
    expect((await ak.authorize(key, { costCents: 3 })).ok).toBe(true);
    const second = await ak.reserve(key, { maxCents: 2 });
    if (!second.ok || !second.hold) throw new Error('no second hold');
    expect((await ak.release(second.hold.id)).ok).toBe(true);
    expect((await ak.authorize(key, { costCents: 2 })).ok).toBe(true);
    expect((await ak.getKey(id))?.budget.usedCents).toBe(10);
  });

  it("refuses by the account's ceiling from Redis, for every key of the account", async () => {
    await ak.setAccountBudget('shared', { budgetCents: 10 });
    const a = await ak.create({ accountId: 'shared', budgetCents: 100 });
    const b = await ak.create({ accountId: 'shared', budgetCents: 100 });
    expect((await ak.authorize(a.key, { costCents: 6 })).ok).toBe(true);
    expect((await ak.authorize(b.key, { costCents: 4 })).ok).toBe(true);
    await warm(a.key, { costCents: 1 });
    await warm(b.key, { costCents: 1 });
    const sent = await statementsOf(async () => {
      for (const k of [a.key, b.key]) {
        const r = await ak.authorize(k, { costCents: 1 });
        expect(r.ok === false && r.error.code).toBe('budget_exceeded');
        expect(r.ok === false && r.account?.usedCents).toBe(10);
      }
    });
    expect(sent).toBe(0);
  });

  it('a pool parent answered by Redis keeps its own principal after its children rebuilt it as their pool', async () => {
    const parent = await ak.create({ accountId: 'acct', budgetCents: 10, scopes: ['read'], name: 'parent' });
    const child = await ak.create({ accountId: 'acct', budgetCents: 100, poolParentId: parent.id });
    await warm(parent.key);
    expect((await ak.authorize(child.key, { costCents: 10 })).ok).toBe(true);
    const fromPostgres = await ak.authorize(parent.key, { costCents: 1, scope: 'read' });
    expect(fromPostgres).toMatchObject({ ok: false, principal: { id: parent.id, name: 'parent' } });
    // The children's calls rebuild the parent's mirror as their pool, numbers only.
    await warm(child.key, { costCents: 1 });
    await warm(parent.key, { costCents: 1, scope: 'read' });
    let fromRedis: unknown;
    expect(
      await statementsOf(
        async () => (fromRedis = await ak.authorize(parent.key, { costCents: 1, scope: 'read' })),
      ),
    ).toBe(0);
    expect(fromRedis).toEqual(fromPostgres);
    await warm(child.key, { costCents: 1 });
    expect(await ak.authorize(parent.key, { costCents: 1, scope: 'write' })).toMatchObject({
      ok: false,
      error: { code: 'insufficient_scope' },
    });
  });

  it("refuses by the pool parent's cap from Redis", async () => {
    const parent = await ak.create({ accountId: 'acct', budgetCents: 10 });
    const child = await ak.create({ accountId: 'acct', budgetCents: 100, poolParentId: parent.id });
    expect((await ak.authorize(child.key, { costCents: 10 })).ok).toBe(true);
    await warm(child.key, { costCents: 1 });
    const sent = await statementsOf(async () => {
      const r = await ak.authorize(child.key, { costCents: 1 });
      expect(r.ok === false && r.error.code).toBe('budget_exceeded');
    });
    expect(sent).toBe(0);
  });
});

describe('redisCounter and time', () => {
  it('a hold past its TTL never refuses from Redis: the call goes to PostgreSQL, which no longer counts it', async () => {
    const clock = manualClock();
    const timed = new AgentKey({
      pool,
      tableName: db.table,
      timeoutMs: STRESS_TIMEOUT_MS,
      counter: testCounter(undefined, { prefix: tc.prefix, trustMs: 60_000 }).counter,
      now: clock.now,
    });
    const { key, id } = await timed.create({ accountId: 'acct', budgetCents: 10 });
    for (let i = 0; i < 3; i++) await timed.authorize(key);
    expect((await timed.reserve(key, { maxCents: 8, ttl: '1m' })).ok).toBe(true);
    for (let i = 0; i < 3; i++) await timed.authorize(key, { costCents: 5 });
    // Still held: refused from the mirror, no statement.
    expect(await statementsOf(() => timed.authorize(key, { costCents: 5 }))).toBe(0);
    clock.advance(61_000);
    const after = await timed.authorize(key, { costCents: 5 });
    expect(after.ok).toBe(true);
    expect((await timed.getKey(id))?.budget.usedCents).toBe(5);
  });
});

describe('redisCounter under concurrency', () => {
  it('300 concurrent charges on one key never pass its cap; the ledger equals the counters', async () => {
    const { key, id } = await ak.create({ accountId: 'acct', budgetCents: 50 });
    await warm(key);
    const results = await Promise.all(Array.from({ length: 300 }, () => ak.authorize(key, { costCents: 1 })));
    const passed = results.filter((r) => r.ok).length;
    expect(passed).toBe(50);
    expect((await ak.getKey(id))?.budget.usedCents).toBe(50);
    expect(await ledgerSum(id)).toBe(50 * 10_000);
    const mirror = Number(await tc.redis.hget(`${tc.prefix}{acct}:${db.table}:k:${id}`, 'used'));
    expect(mirror).toBeLessThanOrEqual(50 * 10_000);
  });

  it('two processes (two stores, one Redis, one database) hammering one account never pass its ceiling', async () => {
    await ak.setAccountBudget('both', { budgetCents: 40 });
    const other = new AgentKey({
      pool: db.newPool(),
      tableName: db.table,
      timeoutMs: STRESS_TIMEOUT_MS,
      counter: testCounter(undefined, { prefix: tc.prefix, trustMs: 60_000 }).counter,
    });
    const keys = await Promise.all([1, 2, 3].map(() => ak.create({ accountId: 'both', budgetCents: 30 })));
    const calls = Array.from({ length: 240 }, (_, i) =>
      (i % 2 ? ak : other).authorize(keys[i % 3]!.key, { costCents: 0.5 }),
    );
    const passed = (await Promise.all(calls)).filter((r) => r.ok).length;
    expect(passed).toBe(80);
    expect((await ak.getAccount('both'))?.usedCents).toBe(40);
  });
});
