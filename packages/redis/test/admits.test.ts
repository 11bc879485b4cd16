import { AgentKey, type CounterCall } from '@agentkey/core';
import { recordingPool, type TestCounter, testCounter } from '@agentkey/test-support/counter.js';
import { openDb, STRESS_TIMEOUT_MS, type TestDb } from '@agentkey/test-support/db.js';
import { EVENTS, replay } from '@agentkey/test-support/ledger.js';
import { type PrivateRedis, startPrivateRedis } from '@agentkey/test-support/private-redis.js';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

// Admissions are coalesced (src/admits.ts): calls of one turn, and every call made while a batch
// is out, go to Redis in one ADMIT_MANY script call. These tests check that a batch keeps every
// guarantee one script per call gave.

let db: TestDb;
let pool: ReturnType<typeof recordingPool>;
/** What a test opened (its database, its counters' clients), closed after it, last opened first. */
const opened: Array<() => unknown> = [];
const CENT = 10_000;

beforeEach(async () => {
  db = await openDb();
  pool = recordingPool(db.pool);
  const mine = db;
  opened.push(() => mine.close());
});
afterEach(async () => {
  for (const close of opened.splice(0).reverse()) await close();
});

/** Admission script calls of `tc`'s client, and how many admissions each carried (the real scripts run). */
function countAdmissions(tc: TestCounter) {
  const client = tc.redis as unknown as Record<string, (...args: string[]) => Promise<unknown>>;
  const sizes: number[] = [];
  const one = client.akAdmit!.bind(client);
  const many = client.akAdmitMany!.bind(client);
  client.akAdmit = (...args) => {
    sizes.push(1);
    return one(...args);
  };
  client.akAdmitMany = (...args) => {
    sizes.push(Number(args[0]) / 7);
    return many(...args);
  };
  return sizes;
}

/** A store (a process) with a counter of its own on `url`; every store of a test shares `prefix`. */
async function store(prefix: string, url?: string, timeoutMs = 5000) {
  const tc = testCounter(url, { trustMs: 60_000, timeoutMs, retryMs: 200, prefix });
  opened.push(() => tc.close());
  const ak = new AgentKey({
    pool,
    tableName: db.table,
    timeoutMs: STRESS_TIMEOUT_MS,
    counter: tc.counter,
    ledger: true,
  });
  await ak.migrate();
  return { ak, tc, sizes: countAdmissions(tc) };
}

const ledger = async (id: number) =>
  (await db.pool.query(EVENTS.replace('{L}', `${db.table}_ledger`), [id])).rows as Array<{
    kind: string;
    m: number;
    h: string;
  }>;

/** Three charges of `cents` from each store: every store's mirror is built and trusted. */
async function warm(stores: Array<{ ak: AgentKey }>, key: string, cents = 1) {
  for (const { ak } of stores) for (let i = 0; i < 3; i++) await ak.authorize(key, { costCents: cents });
  await new Promise((r) => setTimeout(r, 30));
}

describe('coalesced admissions (ADMIT_MANY)', () => {
  it('32 concurrent calls on one key through two stores sharing Redis admit exactly the budget', async () => {
    const prefix = `t${Date.now().toString(36)}a:`;
    const a = await store(prefix);
    const b = await store(prefix);
    const { key, id } = await a.ak.create({ accountId: 'acct', budgetCents: 30 });
    await warm([a, b], key);
    const before = { a: a.sizes.length, b: b.sizes.length };
    const results = await Promise.all(
      Array.from({ length: 32 }, (_, i) => (i % 2 ? b : a).ak.authorize(key, { costCents: 1 })),
    );
    // 6 ¢ warm-up, 24 ¢ left: exactly 24 admitted, whichever store each went through.
    expect(results.filter((r) => r.ok).length).toBe(24);
    expect(results.filter((r) => !r.ok && r.error.code === 'budget_exceeded').length).toBe(8);
    expect((await a.ak.getKey(id))!.budget.usedCents).toBe(30);
    // The ledger: every admitted charge once, never past the cap at any commit.
    const { used } = replay(await ledger(id), 30 * CENT);
    expect(used).toBe(30 * CENT);
    // Each store's 16 calls went to Redis in fewer script calls than calls (one batch carries many).
    const scripts = a.sizes.length - before.a + (b.sizes.length - before.b);
    expect(scripts).toBeLessThan(32);
    expect(Math.max(...a.sizes.slice(before.a), ...b.sizes.slice(before.b))).toBeGreaterThan(1);
  });

  it('one batch: the calls that fit are admitted, the rest refused from Redis with no statement', async () => {
    const { ak, sizes } = await store(`t${Date.now().toString(36)}b:`);
    const tight = await ak.create({ accountId: 'acct', budgetCents: 5 });
    const spent = await ak.create({ accountId: 'acct', budgetCents: 3 });
    const roomy = await ak.create({ accountId: 'acct', budgetCents: 1000 });
    for (const k of [tight, spent, roomy]) await warm([{ ak }], k.key);
    const before = { statements: pool.statements, scripts: sizes.length };
    // One turn: these go in one ADMIT_MANY, one after another, each seeing what the earlier reserved.
    const calls = [
      ak.authorize(spent.key, { costCents: 1 }),
      ak.authorize(tight.key, { costCents: 1 }),
      ak.authorize(tight.key, { costCents: 1 }),
      ak.authorize(tight.key, { costCents: 1 }),
      ak.authorize(roomy.key, { costCents: 1 }),
      ak.authorize(roomy.key, { costCents: 1 }),
    ];
    const [s, t1, t2, t3, r1, r2] = await Promise.all(calls);
    expect(sizes.slice(before.scripts)).toEqual([6]);
    expect(s!.ok === false && s!.error.code).toBe('budget_exceeded');
    // tight: 3 ¢ used of 5, so two of the three fit; the batch's third is refused by the first two's reservations.
    expect([t1!.ok, t2!.ok, t3!.ok]).toEqual([true, true, false]);
    expect(t3!.ok === false && t3!.error.code).toBe('budget_exceeded');
    expect(r1!.ok && r2!.ok).toBe(true);
    // The four admitted reach PostgreSQL together (one batch statement); the two refusals cost none.
    expect(pool.statements - before.statements).toBe(1);
    expect((await ak.getKey(tight.id))!.budget.usedCents).toBe(5);
    expect((await ak.getKey(spent.id))!.budget.usedCents).toBe(3);
    expect((await ak.getKey(roomy.id))!.budget.usedCents).toBe(5);
  });

  it('calls that die between a batched admission and their write leave nothing counting', async () => {
    const { ak, tc, sizes } = await store(`t${Date.now().toString(36)}c:`);
    await ak.ensureSubject('sub-1', { accountId: 'acct', budgetCents: 10 });
    for (let i = 0; i < 3; i++) await ak.authorize({ subject: 'sub-1' });
    const dying = (n: number): CounterCall => ({
      by: 'external_subject',
      value: 'sub-1',
      rid: `00000000-0000-4000-8000-00000000000${n}`,
      nowMs: Date.now(),
      ttlMs: 300,
      micros: 3 * CENT,
      holdMicros: 0,
      scope: null,
      tokenGrants: true,
      idempotent: false,
    });
    const before = sizes.length;
    // Three admitted in one script call, then the process is gone before PostgreSQL hears of them.
    const counter = tc.counter.bind(db.table);
    const admitted = await Promise.all([1, 2, 3].map((n) => counter.admit(dying(n))));
    expect(admitted.map((a) => a.kind)).toEqual(['reserved', 'reserved', 'reserved']);
    expect(sizes.slice(before)).toEqual([3]);
    // 9 ¢ in flight of the 10: a 5 ¢ charge is refused from Redis meanwhile ...
    const meanwhile = await ak.authorize({ subject: 'sub-1' }, { costCents: 5 });
    expect(meanwhile.ok === false && meanwhile.error.code).toBe('budget_exceeded');
    // ... and admitted once their reservations lapsed: nothing of the dead calls' 9 ¢ counts.
    await new Promise((r) => setTimeout(r, 400));
    expect((await ak.authorize({ subject: 'sub-1' }, { costCents: 5 })).ok).toBe(true);
    expect((await ak.getSubject('sub-1'))?.budget.usedCents).toBe(5);
  });
});

describe('coalesced admissions under a Redis fault (a private redis-server)', () => {
  let server: PrivateRedis;
  beforeAll(async () => {
    server = await startPrivateRedis();
  });
  afterAll(async () => {
    await server.destroy();
  });

  it('Redis killed while a batch is out: its calls go to PostgreSQL, no overspend, nothing lost', async () => {
    const { ak, tc, sizes } = await store(`t${Date.now().toString(36)}d:`, server.url, 300);
    const { key, id } = await ak.create({ accountId: 'acct', budgetCents: 20 });
    await warm([{ ak }], key);
    // The next admission script is written to Redis, then Redis is killed before it answers.
    const client = tc.redis as unknown as Record<string, (...args: string[]) => Promise<unknown>>;
    const many = client.akAdmitMany!;
    let killed: Promise<void> | null = null;
    client.akAdmitMany = (...args) => {
      const running = many(...args);
      killed ??= server.kill();
      return running;
    };
    const before = sizes.length;
    const results = await Promise.all(Array.from({ length: 30 }, () => ak.authorize(key, { costCents: 1 })));
    await killed;
    expect(killed).not.toBeNull();
    expect(Math.max(...sizes.slice(before))).toBeGreaterThan(1);
    // 3 ¢ warm-up, 17 left: PostgreSQL admitted exactly those, refused the rest, and lost none.
    const ok = results.filter((r) => r.ok).length;
    expect(ok).toBe(17);
    expect(results.filter((r) => !r.ok && r.error.code === 'budget_exceeded').length).toBe(13);
    expect((await ak.getKey(id))!.budget.usedCents).toBe(20);
    expect(replay(await ledger(id), 20 * CENT).used).toBe(20 * CENT);
    // Back, empty: rebuilt from PostgreSQL, still nothing past the cap.
    server.forgetData();
    await server.start();
    for (let i = 0; i < 5; i++) expect((await ak.authorize(key, { costCents: 1 })).ok).toBe(false);
    expect((await ak.getKey(id))!.budget.usedCents).toBe(20);
  });
});
