import { AgentKey } from '@agentkey/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, openDb, serverPool, type TestDb } from '../../../test/support/db.js';

describe.each(BACKENDS)('migrate (%s)', (backend) => {
  let db: TestDb;
  beforeAll(async () => {
    db = await openDb(backend);
  });
  afterAll(() => db.close());

  it('creates the keys table when absent, with every 0.2.0 column', async () => {
    const ak = new AgentKey({ pool: db.pool, tableName: `${db.schema}.fresh_keys` });
    await ak.migrate();
    const cols = await db.pool.query(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'fresh_keys'`,
      [db.schema],
    );
    const names = cols.rows.map((r) => r.column_name);
    for (const c of [
      'id',
      'account_id',
      'key_hash',
      'key_prefix',
      'name',
      'created_at',
      'last_used_at',
      'revoked_at',
      'user_id',
      'scopes',
      'budget_cents',
      'budget_used_cents',
      'budget_period',
      'budget_reset_at',
      'expires_at',
      'delegated_by',
      'external_subject',
    ]) {
      expect(names).toContain(c);
    }
  });

  it('upgrades a pre-0.2.0 table in place, keeping its rows and their keys working', async () => {
    const table = `${db.schema}.legacy_keys`;
    await db.pool.query(`CREATE TABLE ${table} (id SERIAL PRIMARY KEY, account_id TEXT, key_hash TEXT NOT NULL UNIQUE,
      key_prefix TEXT NOT NULL, name TEXT NOT NULL DEFAULT 'default', created_at TIMESTAMPTZ DEFAULT NOW(),
      last_used_at TIMESTAMPTZ, revoked_at TIMESTAMPTZ)`);
    // A key minted the 0.2.0 way: sha256 hex of the whole key.
    const key = `ak_${'ab'.repeat(24)}`;
    const { hashKey } = await import('@agentkey/core');
    await db.pool.query(`INSERT INTO ${table} (account_id, key_hash, key_prefix) VALUES ('old', $1, $2)`, [
      hashKey(key),
      key.slice(0, 11),
    ]);
    const ak = new AgentKey({ pool: db.pool, tableName: table });
    await ak.migrate();
    await ak.migrate();
    expect(await ak.validate(key)).toMatchObject({ valid: true, accountId: 'old', budgetUsedCents: 0 });
    expect(await ak.trackUsage(key, { costCents: 2 })).toMatchObject({ success: true, budgetUsedCents: 2 });
  });

  it('two tables in one database never share a row', async () => {
    const a = new AgentKey({ pool: db.pool, tableName: `${db.schema}.keys_a` });
    const b = new AgentKey({ pool: db.pool, tableName: `${db.schema}.keys_b` });
    await a.migrate();
    await b.migrate();
    const { key } = await a.create({ accountId: 'x' });
    expect(await b.validate(key)).toEqual({ valid: false, reason: 'invalid' });
  });
});

// Server only: concurrent migrations need several connections.
describe('migrate under concurrency (server only)', () => {
  it('runs serialised whether the table is named with its schema or found through search_path', async () => {
    const db = await openDb('postgres');
    const bare = serverPool(db.schema, 8);
    const qualified = serverPool(undefined, 8);
    try {
      for (let round = 0; round < 3; round++) {
        const table = `race_${round}`;
        await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            i % 2
              ? new AgentKey({ pool: bare, tableName: table }).migrate()
              : new AgentKey({ pool: qualified, tableName: `${db.schema}.${table}` }).migrate(),
          ),
        );
        const ak = new AgentKey({ pool: bare, tableName: table });
        const { key } = await ak.create({ accountId: 'race' });
        expect(
          await new AgentKey({ pool: qualified, tableName: `${db.schema}.${table}` }).validate(key),
        ).toMatchObject({
          valid: true,
        });
      }
    } finally {
      await Promise.all([bare.end(), qualified.end()]);
      await db.close();
    }
  });
});
