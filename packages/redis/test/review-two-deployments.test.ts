import { AgentKey } from '@agentkey/core';
import { type TestCounter, testCounter } from '@agentkey/test-support/counter.js';
import { openDb, STRESS_TIMEOUT_MS, type TestDb } from '@agentkey/test-support/db.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

/**
 * Review (adversarial): two deployments in one database (tableName is configurable so that they
 * do not collide, DESIGN "Data model") sharing one Redis with the counter's default prefix. The
 * counter's Redis keys name the account and the key id, not the table: key 1 of one deployment
 * and key 1 of the other, both in account 'acct', share one mirror. (Both counters are given the
 * same prefix here, as two deployments leaving it at its default `agentkey:` would have.)
 */
let db: TestDb;
let tcX: TestCounter;
let tcY: TestCounter;
let x: AgentKey;
let y: AgentKey;

const settleLands = () => new Promise((r) => setTimeout(r, 150));

beforeEach(async () => {
  db = await openDb();
  tcX = testCounter();
  tcY = testCounter(undefined, { prefix: tcX.prefix });
  const options = { timeoutMs: STRESS_TIMEOUT_MS };
  x = new AgentKey({
    pool: db.newPool(),
    tableName: `${db.schema}.keys_x`,
    counter: tcX.counter,
    ...options,
  });
  y = new AgentKey({
    pool: db.newPool(),
    tableName: `${db.schema}.keys_y`,
    counter: tcY.counter,
    ...options,
  });
  await x.migrate();
  await y.migrate();
});

afterEach(async () => {
  tcX.close();
  tcY.close();
  await db.close();
});

describe('review: two deployments (two tables) on one Redis', () => {
  it("one deployment's spent key never refuses the other deployment's key, nor shows its principal", async () => {
    const spent = await x.create({
      accountId: 'acct',
      budgetCents: 5,
      name: 'x-secret-name',
      userId: 'x-user',
    });
    const fresh = await y.create({ accountId: 'acct', budgetCents: 100, name: 'y-key' });
    expect(spent.id).toBe(fresh.id);
    // Each process has served its own key a few times (a fresh process trusts nothing it did not build).
    for (let i = 0; i < 3; i++) {
      await x.authorize(spent.key);
      await y.authorize(fresh.key);
    }
    expect((await x.authorize(spent.key, { costCents: 5 })).ok).toBe(true);
    await settleLands();
    expect((await y.authorize(fresh.key, { costCents: 1 })).ok).toBe(true);
    await settleLands();
    // X's call is admitted by Y's numbers, refused by PostgreSQL, and X's numbers rebuild the mirror.
    expect((await x.authorize(spent.key, { costCents: 1 })).ok).toBe(false);
    await settleLands();
    const answer = await y.authorize(fresh.key, { costCents: 1 });
    expect(answer.ok === false ? [answer.error.code, answer.principal?.name] : 'ok').toBe('ok');
  });
});
