import { AgentKey, type CounterCall } from '@agentkey/core';
import { RedisCounterError } from '@agentkey/redis';
import { recordingPool, type TestCounter, testCounter } from '@agentkey/test-support/counter.js';
import { openDb, type TestDb } from '@agentkey/test-support/db.js';
import { type PrivateRedis, startPrivateRedis } from '@agentkey/test-support/private-redis.js';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MIN_GAP_MS } from '../src/outage.js';

// Every fault here hits a private redis-server (its own port and --dir), never the shared one.
let server: PrivateRedis;
let db: TestDb;
let pool: ReturnType<typeof recordingPool>;
const counters: TestCounter[] = [];

beforeAll(async () => {
  server = await startPrivateRedis();
});
afterAll(async () => {
  await server.destroy();
});
beforeEach(async () => {
  db = await openDb();
  pool = recordingPool(db.pool);
});
afterEach(async () => {
  for (const c of counters.splice(0)) c.close();
  await db.close();
  // Back to a running, empty, permissive server for the next test.
  await server.kill();
  server.forgetData();
  await server.start();
});

/** A store (a process) with its own counter on the private server, all sharing one prefix. */
async function store(
  prefix?: string,
  timeoutMs = 200,
  onError?: (error: unknown, context: string) => void,
): Promise<{ ak: AgentKey; tc: TestCounter }> {
  const tc = testCounter(server.url, {
    timeoutMs,
    retryMs: 200,
    trustMs: 60_000,
    ...(prefix ? { prefix } : {}),
  });
  counters.push(tc);
  const ak = new AgentKey({
    pool,
    tableName: db.table,
    timeoutMs: 5000,
    counter: tc.counter,
    ...(onError ? { onError } : {}),
  });
  await ak.migrate();
  return { ak, tc };
}

async function statementsOf(work: () => Promise<unknown>): Promise<number> {
  const before = pool.statements;
  await work();
  return pool.statements - before;
}

async function warm(ak: AgentKey, key: string) {
  for (let i = 0; i < 3; i++) await ak.authorize(key, { costCents: 1 });
}

/**
 * Whether the counter trusts Redis again, as it must once Redis answers: polls a spent key until
 * a refusal costs PostgreSQL no statement (after its retry window and a rebuild).
 */
async function retrusted(ak: AgentKey, key: string): Promise<boolean> {
  for (let i = 0; i < 40; i++) {
    if ((await statementsOf(() => ak.authorize(key, { costCents: 1 }))) === 0) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** Charges of 1 ¢ until refused; returns how many passed. */
async function drain(ak: AgentKey, key: string, tries = 30): Promise<number> {
  let passed = 0;
  for (let i = 0; i < tries; i++) if ((await ak.authorize(key, { costCents: 1 })).ok) passed++;
  return passed;
}

const used = async (ak: AgentKey, id: number) => (await ak.getKey(id))?.budget.usedCents;

/** A spent key, refused from a trusted mirror with no statement. */
async function spentKey(ak: AgentKey, cents = 5) {
  const created = await ak.create({ accountId: 'acct', budgetCents: cents });
  expect(await drain(ak, created.key)).toBe(cents);
  await warm(ak, created.key);
  expect(await statementsOf(() => ak.authorize(created.key, { costCents: 1 }))).toBe(0);
  return created;
}

describe('redisCounter under Redis faults (a private redis-server)', () => {
  it('killed: answered from PostgreSQL at once, no overspend; restarted empty: rebuilt, then trusted', async () => {
    const { ak } = await store();
    const { key, id } = await ak.create({ accountId: 'acct', budgetCents: 20 });
    expect(await drain(ak, key, 5)).toBe(5);
    await server.kill();
    expect(await drain(ak, key, 10)).toBe(10);
    expect(await used(ak, id)).toBe(15);
    server.forgetData();
    await server.start();
    expect(await drain(ak, key, 10)).toBe(5);
    expect(await used(ak, id)).toBe(20);
    expect(await retrusted(ak, key)).toBe(true);
  });

  it('an outage is told to onError once, not once per call; after Redis answered again, the next one is told', async () => {
    const told: Array<{ error: unknown; context: string }> = [];
    const { ak } = await store(undefined, 200, (error, context) => told.push({ error, context }));
    const { key } = await spentKey(ak);
    const outages = () => told.filter((t) => t.context === 'counter.redis');
    expect(outages()).toEqual([]);
    await server.kill();
    expect(await drain(ak, key, 10)).toBe(0);
    const firstAt = Date.now(); // the first report is behind it
    // Past retryMs (200 ms) Redis is asked again, and fails again: still the same outage.
    await new Promise((r) => setTimeout(r, 300));
    expect(await drain(ak, key, 5)).toBe(0);
    expect(outages()).toHaveLength(1);
    const [first] = outages();
    expect(first!.error).toBeInstanceOf(RedisCounterError);
    expect((first!.error as Error).message).toMatch(/PostgreSQL path for retryMs \(200 ms\)/);
    expect((first!.error as Error).cause).toBeInstanceOf(Error);
    server.forgetData();
    await server.start();
    expect(await retrusted(ak, key)).toBe(true);
    expect(outages()).toHaveLength(1);
    // A new outage is told at once, but never sooner than MIN_GAP_MS after the last report.
    await new Promise((r) => setTimeout(r, Math.max(0, firstAt + MIN_GAP_MS - Date.now())));
    await server.kill();
    expect(await drain(ak, key, 3)).toBe(0);
    expect(outages()).toHaveLength(2);
  });

  it("two stores on one counter both hear an outage; once one is closed, only the other's onError does", async () => {
    const tc = testCounter(server.url, { timeoutMs: 200, retryMs: 200, trustMs: 60_000 });
    counters.push(tc);
    const heard = { open: 0, closed: 0 };
    const make = (name: keyof typeof heard) =>
      new AgentKey({
        pool,
        tableName: db.table,
        counter: tc.counter,
        onError: (_e, context) => {
          if (context === 'counter.redis') heard[name]++;
        },
      });
    const open = make('open');
    const closed = make('closed');
    await open.migrate();
    const { key } = await spentKey(open);
    await closed.close();
    await server.kill();
    expect(await drain(open, key, 5)).toBe(0);
    expect(heard).toEqual({ open: 1, closed: 0 });
  });

  it('restored from a stale snapshot: its mirrors are not trusted, even by a process that never saw Redis go', async () => {
    const a = await store();
    const b = await store(a.tc.prefix);
    const { key, id } = await spentKey(a.ak);
    await warm(b.ak, key);
    expect(await statementsOf(() => b.ak.authorize(key, { costCents: 1 }))).toBe(0);
    const stale = await server.snapshot();
    await a.ak.resetBudget({ keyId: id });
    await server.kill();
    server.restore(stale);
    await server.start();
    // The snapshot's mirror says spent, at the generation it had: the new run_id gives it away.
    const r = await b.ak.authorize(key, { costCents: 1 });
    expect(r.ok).toBe(true);
    expect(await drain(b.ak, key)).toBe(4);
    expect(await used(a.ak, id)).toBe(5);
  });

  it('SIGSTOPped past its deadline: PostgreSQL answers at once; thawed: trusted again only after a rebuild', async () => {
    const { ak } = await store();
    const { key, id } = await spentKey(ak);
    server.freeze();
    try {
      await ak.resetBudget({ keyId: id });
      expect(await drain(ak, key, 8)).toBe(5);
      expect(await used(ak, id)).toBe(5);
      await ak.resetBudget({ keyId: id });
    } finally {
      server.thaw();
    }
    // The mirror built before the pause said spent: it must not answer now.
    expect((await ak.authorize(key, { costCents: 1 })).ok).toBe(true);
    expect(await drain(ak, key)).toBe(4);
    expect(await retrusted(ak, key)).toBe(true);
  });

  it('FLUSHALL: rebuilt from PostgreSQL, no overspend', async () => {
    const { ak, tc } = await store();
    const { key, id } = await spentKey(ak);
    await server.admin().flushall();
    expect(await tc.redis.exists(`${tc.prefix}{acct}:${db.table}:k:${id}`)).toBe(0);
    expect(await drain(ak, key, 5)).toBe(0);
    expect(await tc.redis.exists(`${tc.prefix}{acct}:${db.table}:k:${id}`)).toBe(1);
    expect(await retrusted(ak, key)).toBe(true);
    expect(await used(ak, id)).toBe(5);
  });

  it('answering errors (scripts refused by ACL): the PostgreSQL path; allowed again: re-trusted after rebuild', async () => {
    const { ak } = await store();
    const { key, id } = await ak.create({ accountId: 'acct', budgetCents: 10 });
    expect(await drain(ak, key, 3)).toBe(3);
    const admin = server.admin();
    await admin.call('ACL', 'SETUSER', 'default', '-eval', '-evalsha');
    try {
      expect(await drain(ak, key, 10)).toBe(7);
      expect(await used(ak, id)).toBe(10);
    } finally {
      await admin.call('ACL', 'SETUSER', 'default', '+@all');
    }
    expect(await retrusted(ak, key)).toBe(true);
    expect(await used(ak, id)).toBe(10);
  });

  it('a process that dies between admission and its PostgreSQL write leaves a reservation that lapses', async () => {
    // No Redis fault here: a deadline no loaded machine reaches.
    const { ak, tc } = await store(undefined, 5000);
    await ak.ensureSubject('sub-1', { accountId: 'acct', budgetCents: 10 });
    for (let i = 0; i < 3; i++) await ak.authorize({ subject: 'sub-1' });
    const dying: CounterCall = {
      by: 'external_subject',
      value: 'sub-1',
      rid: '00000000-0000-4000-8000-000000000001',
      nowMs: Date.now(),
      ttlMs: 300,
      micros: 7 * 10_000,
      holdMicros: 0,
      scope: null,
      tokenGrants: true,
      idempotent: false,
    };
    // Admitted and reserved in Redis, then nothing: the process is gone before PostgreSQL hears of it.
    // The store's counter is the one bound to its table (counter.ts bind): the same one here.
    expect((await tc.counter.bind(db.table).admit(dying)).kind).toBe('reserved');
    const meanwhile = await ak.authorize({ subject: 'sub-1' }, { costCents: 5 });
    expect(meanwhile.ok === false && meanwhile.error.code).toBe('budget_exceeded');
    await new Promise((r) => setTimeout(r, 400));
    expect((await ak.authorize({ subject: 'sub-1' }, { costCents: 5 })).ok).toBe(true);
    // Only the call that wrote counts: nothing of the dead one's 7 ¢ is anywhere.
    expect((await ak.getSubject('sub-1'))?.budget.usedCents).toBe(5);
  });
});
