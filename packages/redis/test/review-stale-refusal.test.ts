import { AgentKey } from '@agentkey/core';
import { type TestCounter, testCounter } from '@agentkey/test-support/counter.js';
import { openDb, STRESS_TIMEOUT_MS, type TestDb } from '@agentkey/test-support/db.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

/**
 * Review (adversarial): a refusal answered from a Redis mirror must be one PostgreSQL would give
 * too (counter/port.ts). Two stores with their own redisCounter on one Redis prefix and one
 * database are two processes of one deployment: nothing is shared but Redis and PostgreSQL.
 * The serving process (A) has a trusted mirror of a spent key; an admin process (B, with the
 * counter configured as the README says) raises the budget. A's next call must be admitted.
 */
let db: TestDb;
let tcA: TestCounter;
let tcB: TestCounter;
let a: AgentKey;
let b: AgentKey;
let plain: AgentKey;

beforeEach(async () => {
  db = await openDb();
  // The harness's (and the product's) default lease: 1 s.
  tcA = testCounter();
  tcB = testCounter(undefined, { prefix: tcA.prefix });
  a = new AgentKey({
    pool: db.newPool(),
    tableName: db.table,
    timeoutMs: STRESS_TIMEOUT_MS,
    counter: tcA.counter,
  });
  b = new AgentKey({
    pool: db.newPool(),
    tableName: db.table,
    timeoutMs: STRESS_TIMEOUT_MS,
    counter: tcB.counter,
  });
  plain = new AgentKey({ pool: db.newPool(), tableName: db.table, timeoutMs: STRESS_TIMEOUT_MS });
  await a.migrate();
});

afterEach(async () => {
  tcA.close();
  tcB.close();
  await db.close();
});

/** A's mirror of a spent key, built and trusted (refusals answered from Redis). */
async function spentInA() {
  const { key, id } = await a.create({ accountId: 'acct', budgetCents: 5 });
  expect((await a.authorize(key, { costCents: 5 })).ok).toBe(true);
  for (let i = 0; i < 3; i++) expect((await a.authorize(key, { costCents: 1 })).ok).toBe(false);
  return { key, id };
}

describe('review: stale refusals from a Redis mirror after an admin change in another process', () => {
  const changes: Array<[string, (id: number) => Promise<unknown>]> = [
    ['topUp({ keyId })', (id) => b.topUp({ keyId: id }, 10)],
    ['setBudget({ keyId })', (id) => b.setBudget({ keyId: id }, { budgetCents: 100 })],
    ['resetBudget({ keyId })', (id) => b.resetBudget({ keyId: id })],
  ];
  for (const [name, change] of changes) {
    it(`${name} in another process re-opens the key at once in the serving process`, async () => {
      const { key, id } = await spentInA();
      expect(await change(id)).toBeTruthy();
      // PostgreSQL alone admits the call now...
      const fromPostgres = await plain.authorize(key, { costCents: 0 });
      expect(fromPostgres.ok).toBe(true);
      // ...so the process with the counter must too (it answers a refusal from its old mirror).
      const fromA = await a.authorize(key, { costCents: 1 });
      expect(fromA.ok === false ? fromA.error.code : 'ok').toBe('ok');
    });
  }

  it('setBudget({ subject }) in another process re-opens the subject at once in the serving process', async () => {
    const subject = 'idp|machine-1';
    await a.ensureSubject(subject, { accountId: 'acct', budgetCents: 5 });
    expect((await a.authorize({ subject }, { costCents: 5 })).ok).toBe(true);
    for (let i = 0; i < 3; i++) expect((await a.authorize({ subject }, { costCents: 1 })).ok).toBe(false);
    expect(await b.setBudget({ subject }, { budgetCents: 100 })).toBeTruthy();
    const fromA = await a.authorize({ subject }, { costCents: 1 });
    expect(fromA.ok === false ? fromA.error.code : 'ok').toBe('ok');
  });
});

describe('review: a mirror rebuilt from a row PostgreSQL read before an admin change is not trusted', () => {
  it("A's settle lands after B's top-up invalidated the account: A's next call goes to PostgreSQL and passes", async () => {
    const short = testCounter(undefined, { prefix: tcA.prefix, trustMs: 200 });
    try {
      const serving = new AgentKey({
        pool: db.newPool(),
        tableName: db.table,
        timeoutMs: STRESS_TIMEOUT_MS,
        counter: short.counter,
      });
      const { key, id } = await serving.create({ accountId: 'acct-race', budgetCents: 5 });
      // B serves the key once, so its counter knows the account its top-up invalidates.
      await b.authorize(key, { costCents: 0 });
      expect((await serving.authorize(key, { costCents: 5 })).ok).toBe(true);
      for (let i = 0; i < 3; i++) expect((await serving.authorize(key, { costCents: 1 })).ok).toBe(false);
      // The mirror's lease ends (B built it, for 1 s): A's next call is PostgreSQL's (refused), and
      // the settle that rebuilds the mirror from that row is held back until B's top-up committed
      // and invalidated the account.
      await new Promise((r) => setTimeout(r, 1100));
      let open!: () => void;
      const gate = new Promise<void>((r) => {
        open = r;
      });
      const scripted = short.redis as unknown as Record<string, (...args: string[]) => Promise<unknown>>;
      for (const name of ['akSettle', 'akSettleMany']) {
        const real = scripted[name]!.bind(short.redis);
        scripted[name] = async (...args) => {
          await gate;
          return real(...args);
        };
      }
      const stale = await serving.authorize(key, { costCents: 1 });
      expect(stale.ok ? 'ok' : stale.error.code).toBe('budget_exceeded');
      expect(await b.topUp({ keyId: id }, 100)).toBeTruthy();
      open();
      await new Promise((r) => setTimeout(r, 50)); // the held-back settle lands
      // Its row predates the top-up: no mirror built from it may answer. PostgreSQL admits the call.
      const after = await serving.authorize(key, { costCents: 1 });
      expect(after.ok ? 'ok' : after.error.code).toBe('ok');
      await serving.close();
    } finally {
      short.close();
    }
  });
});

describe('review: an idempotent replay does not vouch for the expiry of what is held now', () => {
  it('a replayed reserve names its first, released hold: once the open hold expires, the next call passes', async () => {
    let nowMs = Date.now();
    const long = testCounter(undefined, { prefix: tcA.prefix, trustMs: 10_000 });
    const store = new AgentKey({
      pool: db.newPool(),
      tableName: db.table,
      timeoutMs: STRESS_TIMEOUT_MS,
      counter: long.counter,
      now: () => new Date(nowMs),
    });
    const { key } = await store.create({ accountId: 'acct-replay', budgetCents: 5 });
    for (let i = 0; i < 2; i++) await store.authorize(key, { costCents: 0 });
    const first = await store.reserve(key, { maxCents: 5, ttl: 60_000, idempotencyKey: 'K' });
    if (!first.ok || !first.hold) throw new Error('the first reserve was refused');
    expect((await store.release(first.hold.id)).ok).toBe(true);
    const open = await store.reserve(key, { maxCents: 5, ttl: 1000 });
    expect(open.ok).toBe(true);
    const replay = await store.reserve(key, { maxCents: 5, ttl: 60_000, idempotencyKey: 'K' });
    expect(replay.ok && replay.replayed).toBe(true);
    await new Promise((r) => setTimeout(r, 50)); // the replay's settle lands
    nowMs += 1500; // the open hold expired; the released one never counts again
    // PostgreSQL alone, on the same clock, admits the call now.
    const alone = new AgentKey({ pool: db.newPool(), tableName: db.table, now: () => new Date(nowMs) });
    expect((await alone.authorize(key, { costCents: 0 })).ok).toBe(true);
    const next = await store.authorize(key, { costCents: 1 });
    expect(next.ok ? 'ok' : next.error.code).toBe('ok');
    await store.close();
    long.close();
  });
});

describe('review: an admission answered late vouches for no build', () => {
  it('past a quarter of the call deadline, the store may have read the row already: the mirror is built untrusted', async () => {
    const serving = new AgentKey({
      pool: db.newPool(),
      tableName: db.table,
      timeoutMs: 1000,
      counter: tcA.counter,
    });
    const { key, id } = await serving.create({ accountId: 'acct-late', budgetCents: 100 });
    for (let i = 0; i < 3; i++) expect((await serving.authorize(key, { costCents: 1 })).ok).toBe(true);
    const [mirror] = await tcA.redis.keys(`${tcA.prefix}{acct-late}:*:k:${id}`);
    const lease = async () => Number(await tcA.redis.hget(mirror!, 'lease'));
    expect(await lease()).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 1100)); // the lease ends: the next admission is unknown
    // Admissions answered 350 ms late: within the store's wait (half of 1000 ms), past a quarter.
    const scripted = tcA.redis as unknown as Record<string, (...args: string[]) => Promise<unknown>>;
    const real = { akAdmit: scripted.akAdmit!, akAdmitMany: scripted.akAdmitMany! };
    for (const name of ['akAdmit', 'akAdmitMany'] as const) {
      scripted[name] = async (...args) => {
        const answer = await real[name].apply(tcA.redis, args);
        await new Promise((r) => setTimeout(r, 350));
        return answer;
      };
    }
    try {
      expect((await serving.authorize(key, { costCents: 1 })).ok).toBe(true);
      await new Promise((r) => setTimeout(r, 100)); // its settle lands
      expect(await lease()).toBe(0);
    } finally {
      Object.assign(scripted, real);
    }
    // On time again, the next call's build is trusted.
    expect((await serving.authorize(key, { costCents: 1 })).ok).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    expect(await lease()).toBeGreaterThan(Date.now() - 60_000);
    await serving.close();
  });
});
