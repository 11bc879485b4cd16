import { AgentKey } from '@agentkey/core';
import { type TestCounter, testCounter } from '@agentkey/test-support/counter.js';
import { openDb, STRESS_TIMEOUT_MS, type TestDb } from '@agentkey/test-support/db.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

// A mirror is built from PostgreSQL's row, never from the descriptor this process cached: a lone
// or batched charge answers from the cache when it may (only the numbers come back), but a call
// the counter reserved nothing for is "fresh" (core context.ts ChargeRequest.fresh).

let db: TestDb;
let tc: TestCounter;
let ak: AgentKey;

beforeEach(async () => {
  db = await openDb();
  tc = testCounter(undefined, { trustMs: 60_000 });
  // descriptorTtlMs at its default, 1 s (the longest): the steps below run well within it.
  ak = new AgentKey({
    pool: db.pool,
    tableName: db.table,
    timeoutMs: STRESS_TIMEOUT_MS,
    counter: tc.counter,
  });
  await ak.migrate();
});

afterEach(async () => {
  tc.close();
  await db.close();
});

/** Deletes the key's mirror (and nothing else): its next call finds no mirror and rebuilds it. */
async function dropMirror(id: number) {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await tc.redis.scan(cursor, 'MATCH', `${tc.prefix}*:k:${id}`, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  expect(found.length).toBe(1);
  await tc.redis.del(...found);
}

describe('redisCounter: a rebuilt mirror takes the row, not the cached descriptor', () => {
  it('scopes widened in SQL reach the mirror rebuilt right after, while the old descriptor is still cached', async () => {
    const { key, id } = await ak.create({ accountId: 'acct', scopes: ['read'], budgetCents: 1_000 });
    // Mirror built and trusted, descriptor cached.
    for (let i = 0; i < 3; i++)
      expect((await ak.authorize(key, { scope: 'read', costCents: 1 })).ok).toBe(true);
    expect(await ak.authorize(key, { scope: 'write', costCents: 1 })).toMatchObject({
      ok: false,
      error: { code: 'insufficient_scope' },
    });
    // A hand edit: no invalidation, so this process's descriptor still says ['read'].
    await db.pool.query(`UPDATE ${db.table} SET scopes = ARRAY['read', 'write'] WHERE id = $1`, [id]);
    await dropMirror(id);
    // Rebuilt from this call's row: PostgreSQL's scopes, or a call PostgreSQL allows is refused
    // from Redis for as long as the mirror is trusted.
    expect((await ak.authorize(key, { scope: 'read', costCents: 1 })).ok).toBe(true);
    const write = await ak.authorize(key, { scope: 'write', costCents: 1 });
    expect(write.ok).toBe(true);
    if (write.ok) expect(write.principal.scopes).toEqual(['read', 'write']);
  });
});
