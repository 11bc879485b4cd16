import type { AgentKey } from '@agentkey/core';
import { openStore, type TestDb } from '@agentkey/test-support/db.js';
import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * Migration 005: the keys and accounts tables leave a fifth of each page free, so a charge's update
 * of a key row stays on the row's page (HOT: no index entry is added). Checked on the rows' pages
 * (`ctid`) while an old snapshot keeps dead versions from being pruned: a packed table (the default
 * fillfactor, 100) moves every one of them.
 */
describe('migrate() 005_fillfactor', () => {
  let db: TestDb | undefined;
  afterEach(async () => {
    await db?.close();
    db = undefined;
  });

  const pages = async (table: string) =>
    new Map(
      (await db!.pool.query(`SELECT id, (ctid::text::point)[0]::int AS page FROM ${table}`)).rows.map(
        (r: { id: number; page: number }) => [r.id, r.page],
      ),
    );

  /**
   * Makes `n` keys, then charges every `every`-th once while an old snapshot is open (as concurrent
   * calls hold one on a busy deployment), so no dead version can be pruned to make room: an update
   * stays on its row's page only where the page had room left. The share of charged rows that stayed.
   */
  async function stayed(ak: AgentKey, n: number, every: number): Promise<number> {
    const ids: Array<{ id: number; key: string }> = [];
    for (let i = 0; i < n; i++) ids.push(await ak.create({ accountId: 'ff', budgetCents: 1_000_000 }));
    const charged = ids.filter((_, i) => i % every === 0);
    const before = await pages(db!.table);
    const reader = await (db!.pool as pg.Pool).connect();
    try {
      await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await reader.query(`SELECT count(*) FROM ${db!.table}`);
      for (const { key } of charged)
        expect(await ak.authorize(key, { costCents: 1 })).toMatchObject({ ok: true });
    } finally {
      await reader.query('COMMIT');
      reader.release();
    }
    const after = await pages(db!.table);
    return charged.filter(({ id }) => before.get(id) === after.get(id)).length / charged.length;
  }

  it('sets fillfactor 80 on the keys and accounts tables', async () => {
    const opened = await openStore('postgres', { counter: undefined });
    db = opened.db;
    const { rows } = await db.pool.query(
      `SELECT c.oid::regclass::text AS t, c.reloptions FROM pg_class c WHERE c.oid IN ($1::regclass, $2::regclass)`,
      [db.table, `${db.table}_accounts`],
    );
    expect(rows.map((r: { reloptions: string[] | null }) => r.reloptions)).toEqual([
      ['fillfactor=80'],
      ['fillfactor=80'],
    ]);
  });

  it('keeps charged key rows on their pages; a packed table moves them (the control)', async () => {
    const opened = await openStore('postgres', { counter: undefined, batching: false, descriptorTtlMs: 0 });
    db = opened.db;
    const kept = await stayed(opened.ak, 160, 6);
    // The control: the same table packed full, as before 005.
    await db.pool.query(`TRUNCATE ${db.table} CASCADE`);
    await db.pool.query(`ALTER TABLE ${db.table} SET (fillfactor = 100)`);
    const packed = await stayed(opened.ak, 160, 6);
    expect({ kept: kept >= 0.95, packed: packed < 0.5 }).toEqual({ kept: true, packed: true });
  }, 60_000);
});
