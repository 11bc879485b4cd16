import { AgentKey } from '@agentkey/core';
import { openStore, STRESS_TIMEOUT_MS, type TestDb } from '@agentkey/test-support/db.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// A rolling deploy re-creates the engine functions (their checksum changed) while other processes
// serve: the calls running meanwhile must keep their answers. Before the row type was created once,
// each re-creation dropped it, and calls on other connections failed with "could not open relation".
describe('re-creating the engine functions under traffic', () => {
  let db: TestDb;
  let ak: AgentKey;
  beforeAll(async () => {
    ({ db, ak } = await openStore('postgres'));
  });
  afterAll(() => db.close());

  it('answers every call while migrate() re-creates the functions again and again', async () => {
    const { key } = await ak.create({ accountId: 'live', budgetCents: 1_000_000 });
    // Other processes: their own pools, no retry-once luck from a shared connection.
    const pools = [db.newPool(), db.newPool(), db.newPool(), db.newPool()];
    const servers = pools.map(
      (pool) => new AgentKey({ pool, tableName: db.table, timeoutMs: STRESS_TIMEOUT_MS }),
    );
    let migrating = true;
    const migrations = (async () => {
      for (let i = 0; i < 30; i++) {
        await db.pool.query(
          `UPDATE ${db.table}_schema_version SET checksum = 'older' WHERE name = 'functions'`,
        );
        await ak.migrate();
      }
      migrating = false;
    })();
    const answers: string[] = [];
    await Promise.all(
      servers.map(async (server, s) => {
        for (let n = 0; migrating || n < 5; n++) {
          // An idempotency key takes the engine function on every call.
          const r = await server.authorize(key, { costCents: 1, idempotencyKey: `live-${s}-${n}` });
          answers.push(r.ok ? 'ok' : r.error.code);
        }
      }),
    );
    await migrations;
    expect(answers.length).toBeGreaterThan(10);
    expect(answers.filter((a) => a !== 'ok')).toEqual([]);
    // Every call charged once: nothing answered twice, nothing lost.
    expect(await ak.validate(key)).toMatchObject({ valid: true, budgetUsedCents: answers.length });
  });
});
