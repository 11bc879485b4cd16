import { AgentKey } from '@agentkey/core';
import { recordingPool, type TestCounter, testCounter } from '@agentkey/test-support/counter.js';
import { manualClock, openDb, STRESS_TIMEOUT_MS, type TestDb } from '@agentkey/test-support/db.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

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

/** A store as one app process has it: its own pool (recorded) and counter, on the run's shared Redis under `prefix`. */
function store(prefix?: string, options: { now?: () => Date } = {}) {
  // db.close ends it.
  const own = db.newPool();
  // A lease longer than any test: what a refusal costs is measured, not the lease running out.
  const tc = testCounter(undefined, { trustMs: 60_000, ...(prefix ? { prefix } : {}) });
  counters.push(tc);
  const pool = recordingPool(own);
  const ak = new AgentKey({
    pool,
    tableName: db.table,
    timeoutMs: STRESS_TIMEOUT_MS,
    counter: tc.counter,
    ...options,
  });
  return { ak, pool, tc };
}

const ledger = async (id: number) =>
  Number(
    (
      await db.pool.query(
        `SELECT count(*)::int AS n FROM ${db.table}_ledger WHERE principal_id = $1 AND kind = 'charge'`,
        [id],
      )
    ).rows[0].n,
  );

/** A fresh counter trusts nothing it did not build: its first call only learns Redis's clock. */
async function warm(ak: AgentKey, key: string, options = { costCents: 1 }) {
  for (let i = 0; i < 2; i++) await ak.authorize(key, options);
}

describe('redisCounter: rate limits in the admission script', () => {
  it('50/min, 300 concurrent calls through two stores: exactly 50 admitted, refusals cost no statement', async () => {
    const a = store();
    const b = store(a.tc.prefix);
    const { key, id } = await a.ak.create({ accountId: 'acct', rateLimit: { requests: 50, windowSec: 60 } });
    await warm(a.ak, key);
    await warm(b.ak, key);
    const before = a.pool.statements + b.pool.statements;
    const answers = await Promise.all(
      Array.from({ length: 300 }, (_, i) => (i % 2 ? a : b).ak.authorize(key, { costCents: 1 })),
    );
    const sent = a.pool.statements + b.pool.statements - before;
    const ok = answers.filter((r) => r.ok).length;
    const limited = answers.filter((r) => !r.ok && r.error.code === 'rate_limited').length;
    expect({ ok: ok + 4, limited, total: ok + limited }).toEqual({ ok: 50, limited: 254, total: 300 });
    expect(await ledger(id)).toBe(50);
    // The admitted calls' statements only (an engine call each, an in-doubt prune now and then):
    // had the 254 refusals reached PostgreSQL, there would be at least 254.
    expect(sent).toBeLessThan(ok * 2);
    // And once the window is full, 100 more concurrent calls from both stores cost none at all.
    const after = a.pool.statements + b.pool.statements;
    const more = await Promise.all(
      Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).ak.authorize(key, { costCents: 1 })),
    );
    expect(more.every((r) => !r.ok && r.error.code === 'rate_limited')).toBe(true);
    expect(a.pool.statements + b.pool.statements - after).toBe(0);
    const fromRedis = answers.find((r) => !r.ok);
    expect(fromRedis).toMatchObject({
      ok: false,
      error: {
        code: 'rate_limited',
        rateLimit: { policy: 'key', kind: 'requests', limit: 50, remaining: 0, windowSec: 60 },
      },
    });
  });

  it('an account window: every key of the account counts in it, refused from Redis past it', async () => {
    const a = store();
    const { key: k1 } = await a.ak.create({ accountId: 'shared', budgetCents: 1000 });
    const { key: k2 } = await a.ak.create({ accountId: 'shared', budgetCents: 1000 });
    await a.ak.setAccountBudget('shared', { budgetCents: 10_000 });
    await a.ak.setAccountRateLimit('shared', { requests: 5, windowSec: 60 });
    await warm(a.ak, k1);
    await warm(a.ak, k2);
    for (let i = 0; i < 1; i++) expect((await a.ak.authorize(k1)).ok).toBe(true);
    const before = a.pool.statements;
    const r = await a.ak.authorize(k2);
    expect(r).toMatchObject({
      ok: false,
      error: { code: 'rate_limited', rateLimit: { policy: 'account', limit: 5 } },
    });
    expect(a.pool.statements - before).toBe(0);
    // Raising the limit is an admin change: the mirror refusing by the old one is not trusted.
    await a.ak.setAccountRateLimit('shared', { requests: 6, windowSec: 60 });
    expect((await a.ak.authorize(k2)).ok).toBe(true);
  });

  it('a call the mirror admitted and PostgreSQL refused leaves no count in the account window', async () => {
    // The mirror counts an admitted call in the account's window before PostgreSQL answers. Here
    // PostgreSQL refuses it (the key's budget: spent by trackUsage, which the counter never sees),
    // and a refusal's row reports nothing of the account: the window must not keep the count.
    const a = store();
    await a.ak.setAccountRateLimit('over', { cents: 20, windowSec: 60 });
    const k0 = await a.ak.create({ accountId: 'over', budgetCents: 10 });
    const k1 = await a.ak.create({ accountId: 'over' });
    await warm(a.ak, k0.key);
    await warm(a.ak, k1.key);
    expect((await a.ak.trackUsage(k0.key, { costCents: 5 })).success).toBe(true); // PostgreSQL: 9 of 20
    const refused = await a.ak.authorize(k0.key, { costCents: 8 });
    expect(refused).toMatchObject({ ok: false, error: { code: 'budget_exceeded' } });
    // 9 + 9 = 18 of 20 in PostgreSQL's window: allowed. Counting the refused 8 too, it was 26.
    const r = await a.ak.authorize(k1.key, { costCents: 9 });
    expect(r.ok ? 'ok' : r.error.code).toBe('ok');
    const [row] = (
      await db.pool.query(
        `SELECT rate_micros::float8 AS m FROM ${db.table}_accounts WHERE account_id = 'over'`,
      )
    ).rows;
    expect(row.m).toBe(18 * 10_000);
  });

  it('a cents window: refused from Redis once the window spent its cents', async () => {
    const a = store();
    const { key, id } = await a.ak.create({ accountId: 'c', rateLimit: { cents: 10, windowSec: 60 } });
    await warm(a.ak, key, { costCents: 1 });
    expect((await a.ak.authorize(key, { costCents: 7 })).ok).toBe(true);
    const before = a.pool.statements;
    const r = await a.ak.authorize(key, { costCents: 2 });
    expect(r).toMatchObject({
      ok: false,
      error: { code: 'rate_limited', rateLimit: { policy: 'key', kind: 'cents', limit: 10, remaining: 1 } },
    });
    expect(a.pool.statements - before).toBe(0);
    expect((await a.ak.authorize(key, { costCents: 1 })).ok).toBe(true);
    expect(await ledger(id)).toBe(4);
  });

  it('the window resets with the store clock: admitted again once it elapsed, never before', async () => {
    const clock = manualClock(new Date());
    const a = store(undefined, { now: clock.now });
    const { key } = await a.ak.create({ accountId: 'w', rateLimit: { requests: 3, windowSec: 60 } });
    await warm(a.ak, key);
    expect((await a.ak.authorize(key)).ok).toBe(true);
    clock.advance(58_000);
    const before = a.pool.statements;
    const r = await a.ak.authorize(key);
    expect(r.ok === false && r.error.code).toBe('rate_limited');
    expect(a.pool.statements - before).toBe(0);
    clock.advance(2_000);
    const again = await a.ak.authorize(key);
    expect(again.ok).toBe(true);
    // The new window counts from its first call: 2 more, then refused from Redis.
    expect((await a.ak.authorize(key)).ok).toBe(true);
    expect((await a.ak.authorize(key)).ok).toBe(true);
    const at = a.pool.statements;
    expect((await a.ak.authorize(key)).ok).toBe(false);
    expect(a.pool.statements - at).toBe(0);
  });
});
