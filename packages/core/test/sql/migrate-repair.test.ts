import { AgentKey } from '@agentkey/core';
import { BACKENDS, openDb, type TestDb } from '@agentkey/test-support/db.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * migrate() is documented as "Creates the keys table if absent and adds missing columns.
 * Idempotent", and every unmigrated-store error tells the operator to "run ak.migrate()". So
 * migrate() must repair a deployment whose objects are gone even though its version table says
 * current: a table dropped to start over, or a table-level restore (pg_dump -t copies tables, not
 * functions). agentkey 0.3.0's migrate() replayed everything and did.
 */
describe.each(BACKENDS)('migrate() repairs what the version table claims (%s)', (backend) => {
  let db: TestDb;
  beforeAll(async () => {
    db = await openDb(backend);
  });
  afterAll(() => db.close());

  it('re-creates a keys table that was dropped after a migrate', async () => {
    const table = `${db.schema}.dropped_keys`;
    await new AgentKey({ pool: db.pool, tableName: table }).migrate();
    await db.pool.query(`DROP TABLE ${table}`);
    const ak = new AgentKey({ pool: db.pool, tableName: table });
    await ak.migrate();
    const { key } = await ak.create({ accountId: 'again', budgetCents: 5 });
    expect(await ak.validate(key)).toMatchObject({ valid: true, accountId: 'again' });
  });

  it('re-creates engine functions that are missing (a table-only restore)', async () => {
    const table = `${db.schema}.restored_keys`;
    const ak = new AgentKey({ pool: db.pool, tableName: table });
    await ak.migrate();
    const { key } = await ak.create({ accountId: 'r', budgetCents: 100 });
    // What pg_dump -t leaves behind: every table, version table included, and no functions.
    const { rows } = await db.pool.query(
      `SELECT p.oid::regprocedure::text AS fn FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = $1 AND p.proname LIKE 'restored_keys\\_%' AND p.prokind = 'f'`,
      [db.schema],
    );
    expect(rows.map((r) => r.fn)).toContainEqual(expect.stringContaining('restored_keys_charge('));
    for (const { fn } of rows) await db.pool.query(`DROP FUNCTION IF EXISTS ${fn} CASCADE`);
    await ak.migrate();
    // An idempotency key takes the engine function.
    const held = await ak.authorize(key, { costCents: 1, holdCents: 10, idempotencyKey: 'after-restore' });
    expect(held).toMatchObject({ ok: true });
  });
});
