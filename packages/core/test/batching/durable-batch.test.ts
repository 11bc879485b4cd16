import { AgentKey, type Queryable } from '@agentkey/core';
import { openStore, STRESS_TIMEOUT_MS, type TestDb } from '@agentkey/test-support/db.js';
import { lossyPool, resolveAll } from '@agentkey/test-support/lossy-pool.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Batch statements commit without waiting for the disk, so their row locks are free sooner
 * (sql/requests.ts batchLocks); a durable commit follows before any call is answered
 * (batching/batch.ts runDurableBatch). These tests stand between the two, on a real server.
 */
describe('batches answer only once durable (server only)', () => {
  let db: TestDb;
  let ak: AgentKey;
  beforeAll(async () => {
    ({ db, ak } = await openStore('postgres'));
  });
  afterAll(() => db.close());
  const used = async (id: number) =>
    (await db.pool.query(`SELECT budget_used_micros::float8 AS m FROM ${db.table} WHERE id = $1`, [id]))
      .rows[0].m as number;
  const FLUSH = /pg_logical_emit_message/;

  it("no charge of a batch is acknowledged before the batch's flush returns", async () => {
    const lossy = lossyPool(db.pool, FLUSH);
    const store = new AgentKey({ pool: lossy.pool, tableName: db.table, timeoutMs: STRESS_TIMEOUT_MS });
    const { key, id } = await ak.create({ accountId: 'durable', budgetCents: 100 });
    lossy.set('lose-answer');
    let answered = 0;
    const calls = Array.from({ length: 6 }, () =>
      store.authorize(key, { costCents: 1 }).then((r) => {
        answered++;
        return r;
      }),
    );
    // The batch statement has committed (its charges are visible), and its flush is held.
    while (lossy.held === 0 || (await used(id)) < 6 * 10_000) await new Promise((r) => setTimeout(r, 10));
    expect(answered).toBe(0);
    await lossy.release();
    expect((await Promise.all(calls)).every((r) => r.ok)).toBe(true);
    expect(await used(id)).toBe(6 * 10_000);
  });

  it('a batch whose flush fails, even as a connection that was never made, answers unavailable and is voided', async () => {
    let failing = true;
    const refused = () =>
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const pool: Queryable = {
      query(text, params) {
        if (failing && FLUSH.test(text)) return Promise.reject(refused());
        return db.pool.query(text, params);
      },
    };
    const errors: unknown[] = [];
    const store = new AgentKey({
      pool,
      tableName: db.table,
      timeoutMs: STRESS_TIMEOUT_MS,
      onError: (e) => errors.push(e),
    });
    const { key, id } = await ak.create({ accountId: 'durable', budgetCents: 100 });
    const results = await Promise.all(
      Array.from({ length: 6 }, () => store.authorize(key, { costCents: 1 })),
    );
    expect(results.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual(Array(6).fill('unavailable'));
    failing = false;
    await resolveAll(store);
    // The batch had committed: every charge it made is voided, none left counting.
    expect(await used(id)).toBe(0);
    const [ledger] = (
      await db.pool.query(
        `SELECT count(*) FILTER (WHERE kind = 'charge')::int AS charges, count(*) FILTER (WHERE kind = 'void')::int AS voids
          FROM ${db.table}_ledger WHERE principal_id = $1`,
        [id],
      )
    ).rows;
    expect(ledger.voids).toBe(ledger.charges);
    expect(ledger.charges).toBeGreaterThan(0);
  });
});
