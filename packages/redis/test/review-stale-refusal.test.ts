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
