import { AgentKey, type Change } from '@agentkey/core';
import { recordingPool, type TestCounter, testCounter } from '@agentkey/test-support/counter.js';
import { openDb, STRESS_TIMEOUT_MS, type TestDb } from '@agentkey/test-support/db.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type RedisChanges, redisChanges } from '../src/index.js';

let db: TestDb;
const counters: TestCounter[] = [];
const feeds: RedisChanges[] = [];

beforeEach(async () => {
  db = await openDb();
  await new AgentKey({ pool: db.pool, tableName: db.table }).migrate();
});

afterEach(async () => {
  await Promise.all(feeds.splice(0).map((f) => f.close()));
  for (const c of counters.splice(0)) c.close();
  await db.close();
});

const until = async (what: string, check: () => Promise<boolean> | boolean) => {
  for (const end = Date.now() + 5000; !(await check()); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

/**
 * A store as one app process has it: its own pool (recorded), counter and feed, on the run's shared
 * Redis under `prefix`. Mirrors are trusted for a minute: nothing here waits for a lease to end.
 */
async function store(prefix?: string) {
  const tc = testCounter(undefined, { trustMs: 60_000, ...(prefix ? { prefix } : {}) });
  counters.push(tc);
  const changes = redisChanges({ redis: tc.redis, prefix: tc.prefix });
  feeds.push(changes);
  const heard: Change[] = [];
  changes.subscribe((c) => c && heard.push(c));
  await until('the feed to subscribe', () => changes.connected);
  const pool = recordingPool(db.newPool());
  const ak = new AgentKey({
    pool,
    tableName: db.table,
    timeoutMs: STRESS_TIMEOUT_MS,
    counter: tc.counter,
    changes,
  });
  return { ak, pool, tc, heard };
}

/** Calls until a mirror is built and trusted (a fresh counter trusts nothing it did not build). */
async function warm(ak: AgentKey, key: string, options = {}) {
  for (let i = 0; i < 3; i++) await ak.authorize(key, options);
}

describe('redisCounter with the changes feed: another process’s change untrusts the mirror here', () => {
  it('A tops up a key only B served: B admits at once (its mirror refused), no lease waited out', async () => {
    const a = await store();
    const b = await store(a.tc.prefix);
    const { key, id } = await a.ak.create({ accountId: 'acct', budgetCents: 5 });
    expect((await b.ak.authorize(key, { costCents: 5 })).ok).toBe(true);
    await warm(b.ak, key, { costCents: 1 });
    const before = b.pool.statements;
    expect((await b.ak.authorize(key, { costCents: 1 })).ok).toBe(false);
    expect(b.pool.statements - before).toBe(0);
    // A never served the key: its counter cannot name the key's mirrors; B's can, once it hears.
    await a.ak.topUp({ keyId: id }, 10);
    await until('B to hear the top-up', () => b.heard.some((c) => c.what === 'budget'));
    await until('B to admit', async () => (await b.ak.authorize(key, { costCents: 1 })).ok);
    // Rebuilt from PostgreSQL and trusted again: B's refusals come from Redis once more.
    for (let i = 0; i < 9; i++) await b.ak.authorize(key, { costCents: 1 });
    const at = b.pool.statements;
    expect((await b.ak.authorize(key, { costCents: 1 })).ok).toBe(false);
    expect(b.pool.statements - at).toBe(0);
  });

  it('A narrows the scope of a key only B served: B refuses it right after', async () => {
    const a = await store();
    const b = await store(a.tc.prefix);
    const { key, id } = await a.ak.create({ accountId: 'acct', scopes: ['read', 'write'], budgetCents: 100 });
    await warm(b.ak, key, { scope: 'write' });
    await a.ak.update(id, { scopes: ['read'] });
    await until('B to refuse the dropped scope', async () => {
      const r = await b.ak.authorize(key, { scope: 'write' });
      return !r.ok && r.error.code === 'insufficient_scope';
    });
    expect((await b.ak.authorize(key, { scope: 'read' })).ok).toBe(true);
  });

  it('a change to a key B never served leaves B’s other mirrors trusted (only if known)', async () => {
    const a = await store();
    const b = await store(a.tc.prefix);
    const { key: spent } = await a.ak.create({ accountId: 'one', budgetCents: 1 });
    const { id: stranger } = await a.ak.create({ accountId: 'two', budgetCents: 1 });
    expect((await b.ak.authorize(spent, { costCents: 1 })).ok).toBe(true);
    await warm(b.ak, spent, { costCents: 1 });
    await a.ak.topUp({ keyId: stranger }, 5);
    await until('B to hear it', () =>
      b.heard.some((c) => 'keyId' in c.target && c.target.keyId === stranger),
    );
    const before = b.pool.statements;
    expect((await b.ak.authorize(spent, { costCents: 1 })).ok).toBe(false);
    expect(b.pool.statements - before).toBe(0);
  });
});
