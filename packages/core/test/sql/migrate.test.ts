import { AgentKey } from '@agentkey/core';
import { BACKENDS, openDb, serverPool, type TestDb } from '@agentkey/test-support/db.js';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

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
    const { hashKey } = await import('../../src/keys/secret.js');
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

describe.each(BACKENDS)('an unmigrated or foreign table (%s)', (backend) => {
  let db: TestDb;
  const key = `ak_${'cd'.repeat(24)}`;
  beforeAll(async () => {
    db = await openDb(backend);
  });
  afterAll(() => db.close());

  it('migrate() refuses a table of that name that is not a keys table, changing nothing', async () => {
    const table = `${db.schema}.sdk_api_keys`;
    await db.pool.query(`CREATE TABLE ${table} (id SERIAL PRIMARY KEY, title TEXT, created_at TIMESTAMPTZ)`);
    const ak = new AgentKey({ pool: db.pool, tableName: table });
    await expect(ak.migrate()).rejects.toThrow(
      `table ${table} exists but is not an agentkey keys table (missing columns: account_id, key_hash, key_prefix, name, last_used_at, revoked_at)`,
    );
    const cols = await db.pool.query(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'sdk_api_keys' ORDER BY ordinal_position`,
      [db.schema],
    );
    expect(cols.rows.map((r) => r.column_name)).toEqual(['id', 'title', 'created_at']);
  });

  it('authorize on a table nobody migrated is unavailable, saying to run ak.migrate()', async () => {
    const table = `${db.schema}.never_created`;
    const result = await new AgentKey({ pool: db.pool, tableName: table }).authorize(key, { costCents: 1 });
    expect(result).toMatchObject({
      ok: false,
      error: {
        code: 'unavailable',
        description: 'The key store cannot answer: its table is not migrated (run ak.migrate()).',
      },
    });
    const cause = result.ok ? undefined : (result.error.cause as Error & { cause: { code: string } });
    expect(cause?.message).toMatch(
      new RegExp(`^agentkey: table ${table} does not exist \\(.*never_created.*\\): run ak\\.migrate\\(\\)$`),
    );
    expect(cause?.cause.code).toBe('42P01'); // the driver's error, kept
  });

  it('authorize on a 0.2.0 table not yet migrated by this version says the same', async () => {
    const table = `${db.schema}.old_keys`;
    await db.pool.query(`CREATE TABLE ${table} (id SERIAL PRIMARY KEY, account_id TEXT, key_hash TEXT NOT NULL UNIQUE,
      key_prefix TEXT NOT NULL, name TEXT NOT NULL DEFAULT 'default', created_at TIMESTAMPTZ DEFAULT NOW(),
      last_used_at TIMESTAMPTZ, revoked_at TIMESTAMPTZ, user_id TEXT, scopes TEXT[], budget_cents INTEGER,
      budget_used_cents INTEGER DEFAULT 0, budget_period TEXT, budget_reset_at TIMESTAMPTZ, expires_at TIMESTAMPTZ)`);
    const result = await new AgentKey({ pool: db.pool, tableName: table }).authorize(key);
    expect(!result.ok && result.error.description).toBe(
      'The key store cannot answer: its table is not migrated (run ak.migrate()).',
    );
    expect(!result.ok && (result.error.cause as Error).message).toMatch(
      new RegExp(`^agentkey: table ${table} lacks .*: run ak\\.migrate\\(\\)$`),
    );
  });

  it('other store failures keep the plain description', async () => {
    const unreachable = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/none' });
    try {
      const result = await new AgentKey({ pool: unreachable }).authorize(key);
      expect(!result.ok && result.error).toMatchObject({
        code: 'unavailable',
        description: 'The key store cannot answer.',
        cause: { code: 'ECONNREFUSED' },
      });
    } finally {
      await unreachable.end();
    }
  });
});
