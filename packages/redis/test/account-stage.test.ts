import { AgentKey } from '@agentkey/core';
import { recordingPool, type TestCounter, testCounter } from '@agentkey/test-support/counter.js';
import { openDb, STRESS_TIMEOUT_MS, type TestDb } from '@agentkey/test-support/db.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

/**
 * A refusal before the account's stage (revoked, expired, scope, the key's or its pool's budget)
 * needs no account mirror: it is answered from Redis with no PostgreSQL statement even while the
 * account's mirror is untrusted, or can never be rebuilt (its ceiling removed). Found by review:
 * requiring a trusted account mirror up front sent every such refusal to PostgreSQL for good.
 */
let db: TestDb;
const counters: TestCounter[] = [];

beforeEach(async () => {
  db = await openDb();
  await new AgentKey({ pool: db.pool, tableName: db.table }).migrate();
});

afterEach(async () => {
  for (const c of counters.splice(0)) c.close();
  await db.close();
});

function store() {
  // A lease longer than the test: only an untrust, never a lapse, stops a mirror answering.
  const tc = testCounter(undefined, { trustMs: 60_000 });
  counters.push(tc);
  const pool = recordingPool(db.newPool());
  return {
    ak: new AgentKey({ pool, tableName: db.table, timeoutMs: STRESS_TIMEOUT_MS, counter: tc.counter }),
    pool,
  };
}

async function statements(pool: { statements: number }, work: () => Promise<unknown>) {
  const before = pool.statements;
  await work();
  return pool.statements - before;
}

describe('redisCounter: refusals before the account stage need no account mirror', () => {
  it('a revoked key of an account with a ceiling: refused from Redis once rebuilt', async () => {
    const { ak, pool } = store();
    await ak.setAccountBudget('acct', { budgetCents: 1000 });
    const { key, id } = await ak.create({ accountId: 'acct', budgetCents: 100 });
    for (let i = 0; i < 3; i++) expect((await ak.authorize(key, { costCents: 1 })).ok).toBe(true);
    await ak.revoke(id); // the account's generation moves: every mirror of it is rebuilt first
    for (let i = 0; i < 3; i++) await ak.authorize(key, { costCents: 1 });
    const sent = await statements(pool, async () => {
      for (let i = 0; i < 20; i++) {
        const r = await ak.authorize(key, { costCents: 1 });
        expect(r.ok === false && r.error.code).toBe('invalid_token');
      }
    });
    expect(sent).toBe(0);
  });

  it("a spent key after its account's ceiling was removed (no row rebuilds that account again)", async () => {
    const { ak, pool } = store();
    await ak.setAccountBudget('rm', { budgetCents: 1000 });
    const spent = (await ak.create({ accountId: 'rm', budgetCents: 3 })).key;
    const busy = (await ak.create({ accountId: 'rm' })).key;
    for (let i = 0; i < 3; i++) expect((await ak.authorize(spent, { costCents: 1 })).ok).toBe(true);
    await ak.setAccountBudget('rm', { budgetCents: null });
    for (let i = 0; i < 3; i++) {
      expect((await ak.authorize(busy, { costCents: 1 })).ok).toBe(true);
      expect((await ak.authorize(spent, { costCents: 1 })).ok).toBe(false);
    }
    let sent = 0;
    for (let i = 0; i < 20; i++) {
      expect((await ak.authorize(busy, { costCents: 1 })).ok).toBe(true);
      sent += await statements(pool, async () => {
        const r = await ak.authorize(spent, { costCents: 1 });
        expect(r.ok === false && r.error.code).toBe('budget_exceeded');
      });
    }
    expect(sent).toBe(0);
  });

  it('a key spent behind the counter (trackUsage): after one PostgreSQL refusal, Redis answers', async () => {
    const { ak, pool } = store();
    await ak.setAccountBudget('behind', { budgetCents: 1000 });
    const { key } = await ak.create({ accountId: 'behind', budgetCents: 10 });
    for (let i = 0; i < 3; i++) expect((await ak.authorize(key, { costCents: 1 })).ok).toBe(true);
    expect((await ak.trackUsage(key, { costCents: 7 })).success).toBe(true);
    // Admitted by the mirror, refused by PostgreSQL: its account mirror is untrusted (its window
    // may hold the refused call), which must not stop the key's own refusals from Redis.
    expect((await ak.authorize(key, { costCents: 1 })).ok).toBe(false);
    for (let i = 0; i < 2; i++) await ak.authorize(key, { costCents: 1 });
    const sent = await statements(pool, async () => {
      for (let i = 0; i < 20; i++) expect((await ak.authorize(key, { costCents: 1 })).ok).toBe(false);
    });
    expect(sent).toBe(0);
  });
});
