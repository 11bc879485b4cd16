import { readFileSync } from 'node:fs';
import { AgentKey } from '@agentkey/core';
import { BACKENDS, openDb, type TestDb } from '@agentkey/test-support/db.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queryable } from '../../src/db/queryable.js';
import { hashKey } from '../../src/keys/secret.js';
import { tableNames } from '../../src/sql/identifier.js';
import { render } from '../../src/sql/render.js';

/**
 * What migrate() of agentkey 0.3.0 ran, replayed whole on every call and recording no version:
 * rendered from that release's sql/migrate.ts with placeholders for the table names.
 */
const OLD_MIGRATE = readFileSync(new URL('./fixtures/migrate-0.3.0.sql', import.meta.url), 'utf8');

/** A pool that records every query text it is sent. */
function recording(pool: Queryable): { pool: Queryable; sent: string[] } {
  const sent: string[] = [];
  const query: Queryable['query'] = (text, params) => {
    sent.push(text);
    return pool.query(text, params);
  };
  return { sent, pool: { query } };
}

describe.each(BACKENDS)('migrate() with a version table (%s)', (backend) => {
  let db: TestDb;
  beforeAll(async () => {
    db = await openDb(backend);
  });
  afterAll(() => db.close());

  const versions = async (table: string) =>
    (await db.pool.query(`SELECT name, checksum, applied_at FROM ${table}_schema_version ORDER BY name`))
      .rows;

  it('upgrades a deployment the old replay-everything migrate() made, keys, holds and all', async () => {
    const table = `${db.schema}.old_deploy`;
    await db.pool.query(render(OLD_MIGRATE, tableNames(table)));
    const ak = new AgentKey({ pool: db.pool, tableName: table });
    // Made and charged under the old functions, as a 0.3.0 process calls them (this release's
    // lean statements read 002's columns: a deployment migrates before it serves).
    const key = 'ak_0ld0000000000000000000000000000000000000000000000';
    await db.pool.query(
      `INSERT INTO ${table} (account_id, key_hash, key_prefix, name, budget_cents, budget_used_cents, budget_used_micros)
        VALUES ('old', $1, 'ak_0ld00', 'old', 100, 0, 0)`,
      [hashKey(key)],
    );
    const old = await db.pool.query(
      `SELECT outcome, hold_id FROM ${table}_charge($1, now(), 10000, NULL, true, false, 100000,
        now() + interval '15 minutes', NULL, 'charge', false, NULL, gen_random_uuid(), 0)`,
      [hashKey(key)],
    );
    expect(old.rows[0].outcome).toBe('ok');
    const held = { ok: true, hold: { id: String(old.rows[0].hold_id) } };
    await ak.migrate();
    expect((await versions(table)).map((r) => r.name)).toEqual([
      '001_tables.sql',
      '002_rate_limits.sql',
      '003_console_indexes.sql',
      '004_refusals.sql',
      '005_fillfactor.sql',
      'functions',
    ]);
    // The engine now returns the declared composite type.
    const { rows } = await db.pool.query(
      `SELECT format_type(prorettype, NULL) AS type FROM pg_proc WHERE oid = $1::regprocedure`,
      [
        `${table}_charge(text, timestamptz, bigint, text, boolean, boolean, bigint, timestamptz, text, text, boolean, jsonb, uuid, integer)`,
      ],
    );
    expect(rows[0].type).toBe(`${db.schema}.old_deploy_engine_row`);
    // The hold taken before the upgrade settles after it; everything else works as before.
    const hold = held.ok ? held.hold : undefined;
    expect(await ak.settle(hold!.id, { costCents: 4 })).toMatchObject({ ok: true });
    expect(await ak.trackUsage(key, { costCents: 2 })).toMatchObject({ success: true, budgetUsedCents: 7 });
    expect(await ak.authorize(key, { costCents: 500 })).toMatchObject({
      ok: false,
      error: { code: 'budget_exceeded' },
    });
  });

  it('is a no-op when current: it only reads the version table', async () => {
    const table = `${db.schema}.current_keys`;
    await new AgentKey({ pool: db.pool, tableName: table }).migrate();
    const before = await versions(table);
    const spy = recording(db.pool);
    await new AgentKey({ pool: spy.pool, tableName: table }).migrate();
    expect(spy.sent.every((text) => /^SELECT /.test(text) && !text.includes(';'))).toBe(true);
    expect(spy.sent).toHaveLength(2);
    expect(await versions(table)).toEqual(before);
  });

  it('re-creates the engine functions when their text changed, and only them', async () => {
    const table = `${db.schema}.changed_keys`;
    const ak = new AgentKey({ pool: db.pool, tableName: table });
    await ak.migrate();
    // As a deployment whose functions an older version of this package wrote.
    await db.pool.query(`UPDATE ${table}_schema_version SET checksum = 'older' WHERE name = 'functions'`);
    await db.pool.query(`DROP FUNCTION ${table}_cap_fits(integer, bigint, bigint)`);
    const spy = recording(db.pool);
    await new AgentKey({ pool: spy.pool, tableName: table }).migrate();
    const applied = spy.sent.find((text) => text.includes('pg_advisory_xact_lock'));
    expect(applied).toContain(
      `CREATE OR REPLACE FUNCTION ${table.replace(/^(\w+)\.(\w+)$/, '"$1"."$2')}_cap_fits"`,
    );
    // Migration 001 is not run again.
    expect(applied).not.toContain('ALTER TABLE');
    const rows = await versions(table);
    expect(rows.find((r) => r.name === 'functions')?.checksum).toMatch(/^[0-9a-f]{64}$/);
    const { key } = await ak.create({ accountId: 'x', budgetCents: 1 });
    expect(await ak.authorize(key, { costCents: 2 })).toMatchObject({
      ok: false,
      error: { code: 'budget_exceeded' },
    });
  });
});
