import { AgentKey, AgentKeyInputError } from '@agentkey/core';
import { openStore, type TestDb } from '@agentkey/test-support/db.js';
import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { buildIndexesConcurrently } from '../../src/sql/concurrent-indexes.js';
import { tableNames } from '../../src/sql/identifier.js';

// Migration 003 adds indexes to the keys table and the ledger. A plain CREATE INDEX holds a SHARE
// lock for its whole build, and while it waits for that lock every write queues behind it: on a
// large deployment, every charge stops. `migrate({ concurrently: true })` builds them first with
// CREATE INDEX CONCURRENTLY, which lets writes through.

const INDEXES_003 = [
  '_ledger_principal_cover',
  '_pool_parent_idx',
  '_revoked_idx',
  '_expires_idx',
  '_name_search_idx',
  '_subject_search_idx',
  '_prefix_search_idx',
];

/** The deployment as it was before 003: its indexes absent, 001's ledger index present, 003 unrecorded. */
async function before003(db: TestDb) {
  for (const suffix of INDEXES_003) await db.pool.query(`DROP INDEX ${db.schema}.sdk_api_keys${suffix}`);
  await db.pool.query(
    `CREATE INDEX sdk_api_keys_ledger_principal_idx ON ${db.table}_ledger (principal_id, at)`,
  );
  await db.pool.query(`DELETE FROM ${db.table}_schema_version WHERE name = '003_console_indexes.sql'`);
}

async function indexes(db: TestDb): Promise<Map<string, boolean>> {
  const { rows } = await db.pool.query(
    `SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1`,
    [db.schema],
  );
  return new Map(rows.map((r: { relname: string; indisvalid: boolean }) => [r.relname, r.indisvalid]));
}

/** Until some session of this schema's migration waits on a lock (the held write below). */
async function migrationWaiting(db: TestDb, pattern: string) {
  for (let i = 0; i < 200; i++) {
    const { rows } = await db.pool.query(
      `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1 AND query LIKE $2`,
      [pattern, `%${db.schema}%`],
    );
    if (rows.length > 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the migration never reached the held lock');
}

/** A write on another row of the keys table, from another connection, that gives up after 2 s. */
async function writeElsewhere(pool: pg.Pool, db: TestDb, id: number): Promise<'written' | 'blocked'> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SET LOCAL lock_timeout = '2s'`);
    await client.query(`UPDATE ${db.table} SET name = 'written' WHERE id = $1`, [id]);
    await client.query('COMMIT');
    return 'written';
  } catch (error) {
    await client.query('ROLLBACK');
    if ((error as { code?: string }).code === '55P03') return 'blocked';
    throw error;
  } finally {
    client.release();
  }
}

describe('migrate({ concurrently: true }) on a deployment that lacks migration 003', () => {
  let open: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of open.reverse()) await close();
    open = [];
  });

  /** A store before 003 with two keys; a transaction holding a write on the first (a slow charge). */
  async function setup() {
    const { db, ak } = await openStore('postgres');
    open.push(() => db.close());
    const a = await ak.create({ accountId: 'acme', budgetCents: 100 });
    const b = await ak.create({ accountId: 'acme', budgetCents: 100 });
    await before003(db);
    const holder = await db.newPool().connect();
    open.push(async () => holder.release());
    await holder.query('BEGIN');
    await holder.query(`UPDATE ${db.table} SET name = 'held' WHERE id = $1`, [a.id]);
    return { db, ak, holder, other: db.newPool(), b };
  }

  it('lets writes through while an index waits for a running transaction, then applies 003', async () => {
    const { db, ak, holder, other, b } = await setup();
    const migrating = ak.migrate({ concurrently: true });
    await migrationWaiting(db, 'CREATE INDEX CONCURRENTLY%');
    // The index build waits for the held write, and does not make other writers wait behind it.
    expect(await writeElsewhere(other, db, b.id)).toBe('written');
    await holder.query('COMMIT');
    await migrating;
    const after = await indexes(db);
    for (const suffix of INDEXES_003) expect(after.get(`sdk_api_keys${suffix}`)).toBe(true);
    expect(after.has('sdk_api_keys_ledger_principal_idx')).toBe(false);
    const { rows } = await db.pool.query(`SELECT name FROM ${db.table}_schema_version ORDER BY name`);
    expect(rows.map((r: { name: string }) => r.name)).toContain('003_console_indexes.sql');
    // The store still charges as before.
    expect(await ak.authorize(b.key, { costCents: 1 })).toMatchObject({ ok: true });
  }, 60_000);

  it('a plain migrate() on the same deployment makes that write wait (what the option avoids)', async () => {
    const { db, ak, holder, other, b } = await setup();
    const migrating = ak.migrate();
    await migrationWaiting(db, '%agentkey:migrate:%');
    expect(await writeElsewhere(other, db, b.id)).toBe('blocked');
    await holder.query('COMMIT');
    await migrating;
    expect((await indexes(db)).get('sdk_api_keys_pool_parent_idx')).toBe(true);
  }, 60_000);

  it('drops and rebuilds an invalid index a failed concurrent build left, keeps valid ones', async () => {
    const { db, ak } = await openStore('postgres');
    open.push(() => db.close());
    await before003(db);
    await db.pool.query(
      `CREATE INDEX sdk_api_keys_revoked_idx ON ${db.table} (id) WHERE revoked_at IS NOT NULL`,
    );
    await db.pool.query(`CREATE INDEX sdk_api_keys_expires_idx ON ${db.table} (expires_at)`);
    // What a concurrent build that failed half-way leaves: the catalog entry, marked invalid.
    await db.pool.query(
      `UPDATE pg_index SET indisvalid = false WHERE indexrelid = '${db.schema}.sdk_api_keys_revoked_idx'::regclass`,
    );
    const steps = await buildIndexesConcurrently(db.pool, tableNames(db.table));
    const by = new Map(steps.map((s) => [s.index.replace(/"/g, ''), s.done]));
    expect(by.get(`${db.schema}.sdk_api_keys_revoked_idx`)).toBe('rebuilt');
    expect(by.get(`${db.schema}.sdk_api_keys_expires_idx`)).toBe('kept');
    expect(by.get(`${db.schema}.sdk_api_keys_pool_parent_idx`)).toBe('built');
    expect(by.get(`${db.schema}.sdk_api_keys_ledger_principal_idx`)).toBe('dropped');
    expect((await indexes(db)).get('sdk_api_keys_revoked_idx')).toBe(true);
    await ak.migrate();
    // Nothing pending any more: a second pass builds nothing.
    expect(await buildIndexesConcurrently(db.pool, tableNames(db.table))).toEqual([]);
  }, 60_000);

  it('on a fresh database builds the tables as usual (their indexes come with them)', async () => {
    const { db } = await openStore('postgres');
    open.push(() => db.close());
    const fresh = `${db.schema}.fresh_keys`;
    const ak = new AgentKey({ pool: db.pool, tableName: fresh });
    expect(await buildIndexesConcurrently(db.pool, tableNames(fresh))).toSatisfy((steps: unknown[]) =>
      (steps as Array<{ done: string }>).every((s) => s.done === 'later' || s.done === 'kept'),
    );
    await ak.migrate({ concurrently: true });
    expect((await indexes(db)).get('fresh_keys_pool_parent_idx')).toBe(true);
  }, 60_000);

  it('refuses options that are not { concurrently?: boolean }', async () => {
    const { db, ak } = await openStore('postgres');
    open.push(() => db.close());
    for (const bad of [null, 'yes', { concurrently: 'yes' }, 1]) {
      await expect(ak.migrate(bad as never)).rejects.toBeInstanceOf(AgentKeyInputError);
    }
  });
});
