import { AgentKey } from '@agentkey/core';
import { openDb, openStore, type TestDb } from '@agentkey/test-support/db.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Server only: PGlite has a single connection, so nothing there runs concurrently.
describe('concurrency (server only)', () => {
  let db: TestDb;
  let ak: AgentKey;
  beforeAll(async () => {
    ({ db, ak } = await openStore('postgres'));
  });
  afterAll(() => db.close());

  const used = async (id: number) =>
    (await db.pool.query(`SELECT budget_used_cents, budget_used_micros FROM ${db.table} WHERE id = $1`, [id]))
      .rows[0];

  it('200 parallel trackUsage on a cap of 100 × cost: exactly 100 succeed', async () => {
    const { key, id } = await ak.create({ accountId: 'a', budgetCents: 300 });
    const results = await Promise.all(
      Array.from({ length: 200 }, () => ak.trackUsage(key, { costCents: 3 })),
    );
    expect(results.filter((r) => r.success)).toHaveLength(100);
    expect(results.filter((r) => !r.success && r.reason === 'budget_exceeded')).toHaveLength(100);
    expect((await used(id)).budget_used_cents).toBe(300);
  });

  it('200 parallel authorize on a cap of 100 × cost: exactly 100 succeed, used = sum of successes', async () => {
    const { key, id } = await ak.create({ accountId: 'a', budgetCents: 25 });
    const results = await Promise.all(
      Array.from({ length: 200 }, () => ak.authorize(key, { costCents: 0.25 })),
    );
    const passed = results.filter((r) => r.ok);
    expect(passed).toHaveLength(100);
    expect(results.filter((r) => !r.ok && r.error.code === 'budget_exceeded')).toHaveLength(100);
    expect(Number((await used(id)).budget_used_micros)).toBe(100 * 2500);
  });

  it('the same across two separate pg pools (two processes sharing one database)', async () => {
    const poolA = db.newPool();
    const poolB = db.newPool();
    const a = new AgentKey({ pool: poolA, tableName: db.table });
    const b = new AgentKey({ pool: poolB, tableName: db.table });
    const { key, id } = await a.create({ accountId: 'a', budgetCents: 100 });
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        i % 2 === 0 ? a.authorize(key, { costCents: 1 }) : b.trackUsage(key, { costCents: 1 }),
      ),
    );
    const successes = results.filter((r) => ('ok' in r ? r.ok : r.success));
    expect(successes).toHaveLength(100);
    expect((await used(id)).budget_used_cents).toBe(100);
  });

  it('20 parallel charges of 20 on a cap of 100: exactly 5 succeed (0.2.0 README case)', async () => {
    const { key } = await ak.create({ accountId: 'a', budgetCents: 100 });
    const results = await Promise.all(
      Array.from({ length: 20 }, () => ak.trackUsage(key, { costCents: 20 })),
    );
    expect(results.filter((r) => r.success)).toHaveLength(5);
  });

  it('parallel charges racing a period reset never lose the reset or pass the cap', async () => {
    const { key, id } = await ak.create({ accountId: 'a', budgetCents: 10, budgetPeriod: 'day' });
    await ak.trackUsage(key, { costCents: 10 });
    await db.pool.query(`UPDATE ${db.table} SET budget_reset_at = now() - interval '1 hour' WHERE id = $1`, [
      id,
    ]);
    const results = await Promise.all(Array.from({ length: 50 }, () => ak.authorize(key, { costCents: 1 })));
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    expect((await used(id)).budget_used_cents).toBe(10);
  });

  it('migrate run by several processes at once on a fresh schema succeeds everywhere', async () => {
    const fresh = await openDb('postgres');
    try {
      const pools = Array.from({ length: 4 }, () => fresh.newPool());
      const stores = pools.map((pool) => new AgentKey({ pool, tableName: fresh.table }));
      await Promise.all(stores.flatMap((s) => [s.migrate(), s.migrate()]));
      const { key } = await stores[0]!.create({ accountId: 'x' });
      expect(await stores[3]!.validate(key)).toMatchObject({ valid: true });
    } finally {
      await fresh.close();
    }
  });
});
