import { AgentKey, AgentKeyInputError } from '@agentkey/core';
import { BACKENDS, manualClock, openStore, type TestDb } from '@agentkey/test-support/db.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** Named limiters (`rateLimitHit`, the /signup limiter's store): the keys' rule on a bucket row. */
describe.each(BACKENDS)('rateLimitHit (%s)', (backend) => {
  let db: TestDb;
  let ak: AgentKey;
  const clock = manualClock();
  beforeAll(async () => {
    ({ db, ak } = await openStore(backend, { now: clock.now }));
  });
  afterAll(() => db.close());

  it('admits `requests` per window per bucket, refusals uncounted, then resets', async () => {
    const limit = { requests: 2, windowSec: 10 };
    expect(await ak.rateLimitHit('signup|a', limit)).toEqual({ ok: true });
    expect(await ak.rateLimitHit('signup|a', limit)).toEqual({ ok: true });
    expect(await ak.rateLimitHit('signup|b', limit)).toEqual({ ok: true });
    expect(await ak.rateLimitHit('signup|a', limit)).toEqual({ ok: false, retryAfterSec: 10 });
    clock.advance(9_001);
    for (let i = 0; i < 3; i++)
      expect(await ak.rateLimitHit('signup|a', limit)).toEqual({ ok: false, retryAfterSec: 1 });
    clock.advance(999);
    expect(await ak.rateLimitHit('signup|a', limit)).toEqual({ ok: true });
    expect(await ak.rateLimitHit('signup|a', limit)).toEqual({ ok: true });
    expect((await ak.rateLimitHit('signup|a', limit)).ok).toBe(false);
  });

  it('prunes expired windows as new buckets open', async () => {
    const table = `${db.table}_rate_windows`;
    for (let i = 0; i < 5; i++) await ak.rateLimitHit(`old|${i}`, { requests: 1, windowSec: 1 });
    clock.advance(2_000);
    await ak.rateLimitHit('fresh|x', { requests: 1, windowSec: 1 });
    const left = await db.pool.query(`SELECT bucket FROM ${table} WHERE bucket LIKE 'old|%'`);
    expect(left.rows).toEqual([]);
  });

  it.each([
    ['', { requests: 1 }, 'bucket'],
    ['a\nb', { requests: 1 }, 'bucket'],
    ['x'.repeat(513), { requests: 1 }, 'bucket'],
    ['ok', { requests: 0 }, 'rateLimit.requests'],
    ['ok', { requests: 1, windowSec: 0.5 }, 'rateLimit.windowSec'],
    ['ok', { cents: 5 }, 'rateLimit'],
  ])('refuses bucket %j with %j, naming %s', async (bucket, limit, field) => {
    const error = await ak.rateLimitHit(bucket, limit as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AgentKeyInputError);
    expect((error as AgentKeyInputError).field).toBe(field);
  });
});

describe('rateLimitHit across connections (postgres)', () => {
  let db: TestDb;
  let ak: AgentKey;
  beforeAll(async () => {
    ({ db, ak } = await openStore('postgres'));
  });
  afterAll(() => db.close());

  it('200 concurrent hits from two stores (two pools) admit exactly 30', async () => {
    const other = new AgentKey({ pool: db.newPool(), tableName: db.table });
    const stores = [ak, other];
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        stores[i % 2]!.rateLimitHit('shared', { requests: 30, windowSec: 60 }),
      ),
    );
    expect(answers.filter((a) => a.ok)).toHaveLength(30);
  });
});
