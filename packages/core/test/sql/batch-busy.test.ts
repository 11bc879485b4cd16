import { randomUUID } from 'node:crypto';
import { AgentKey } from '@agentkey/core';
import { openDb, type TestDb } from '@agentkey/test-support/db.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../../src/keys/secret.js';
import { tableNames } from '../../src/sql/identifier.js';
import { statements } from '../../src/sql/statements.js';

/**
 * The batch statements' `busy` answer (sql/charges.ts, sql/holds.ts): a call whose key another
 * transaction holds comes back busy (the coalescer sends it round again, or to the row's lane), and
 * the second lookup that finds such keys is skipped only when every key asked was locked
 * (sql/requests.ts SOME_UNLOCKED). Run on the statements themselves, a key held by another session.
 */
describe('batch statements: busy keys (server only)', () => {
  let db: TestDb;
  let ak: AgentKey;
  let keys: { key: string; id: number }[];
  const sql = () => statements(tableNames(db.table), true, 5_000);

  beforeAll(async () => {
    db = await openDb('postgres');
    ak = new AgentKey({ pool: db.pool, tableName: db.table });
    await ak.migrate();
    keys = [];
    for (let i = 0; i < 3; i++) keys.push(await ak.create({ accountId: 'acct', budgetCents: 1_000 }));
    // The batch forms take keys whose ceiling flag is known: one charge each makes it so.
    for (const { key } of keys) expect((await ak.authorize(key, { costCents: 1 })).ok).toBe(true);
  });
  afterAll(() => db.close());

  /** Runs `work` while another session holds the key rows `ids` (FOR UPDATE), then lets them go. */
  async function whileHeld<T>(ids: number[], work: () => Promise<T>): Promise<T> {
    const session = await db.newPool().connect();
    await session.query('BEGIN');
    if (ids.length) await session.query(`SELECT 1 FROM ${db.table} WHERE id = ANY($1) FOR UPDATE`, [ids]);
    try {
      return await work();
    } finally {
      await session.query('ROLLBACK');
      session.release();
    }
  }

  /** The charge batch's rows for `which` (indexes into keys, 1 cent each; `known`: $7). */
  async function chargeRows(which: number[], known: boolean[] = which.map(() => false)) {
    const now = new Date().toISOString();
    const { rows } = await db.pool.query(sql().charges.batch('key_hash').text, [
      which.map((i) => (i < 0 ? hashKey('ak_nosuchkey') : hashKey(keys[i]!.key))),
      which.map(() => now),
      which.map(() => 10_000),
      which.map(() => null),
      which.map(() => true),
      which.map(() => randomUUID()),
      known,
    ]);
    return rows;
  }

  /** The charge batch for `which`: answered ords and busy ords. */
  async function charge(which: number[]) {
    const rows = await chargeRows(which);
    return {
      answered: rows.flatMap((r) => (r.ord ? [r.ord as number] : [])).sort(),
      busy: rows[0]?.busy ?? null,
    };
  }

  /** The same for the reserve batch (1 cent and a hold of 1 cent, a minute). */
  async function reserve(which: number[]) {
    const now = new Date();
    const { rows } = await db.pool.query(sql().holds.reserveBatch('key_hash').text, [
      which.map((i) => hashKey(keys[i]!.key)),
      which.map(() => now.toISOString()),
      which.map(() => 0),
      which.map(() => null),
      which.map(() => true),
      which.map(() => 10_000),
      which.map(() => new Date(now.getTime() + 60_000).toISOString()),
      which.map(() => randomUUID()),
    ]);
    return {
      answered: rows.flatMap((r) => (r.ord ? [r.ord as number] : [])).sort(),
      busy: rows[0]?.busy ?? null,
    };
  }

  it('a charge on a held key comes back busy; the others are charged', async () => {
    expect(await whileHeld([keys[0]!.id], () => charge([0, 1, 2]))).toEqual({ answered: [2, 3], busy: [1] });
  });

  it('two charges on one held key, beside a free one and an unknown key: both busy, the unknown one neither', async () => {
    expect(await whileHeld([keys[1]!.id], () => charge([1, 0, 1, -1]))).toEqual({
      answered: [2],
      busy: [1, 3],
    });
  });

  it('every key held: all busy', async () => {
    expect(await whileHeld([keys[0]!.id, keys[2]!.id], () => charge([0, 2]))).toEqual({
      answered: [],
      busy: [1, 2],
    });
  });

  it('nothing held: nothing busy (the second lookup is skipped, the answer the same)', async () => {
    expect(await whileHeld([], () => charge([0, 1, 2, 0]))).toEqual({ answered: [1, 2, 3, 4], busy: null });
  });

  it('a caller holding the descriptor gets only the numbers; the others the whole row', async () => {
    const rows = await chargeRows([0, 1], [true, false]);
    const byOrd = new Map(rows.map((r) => [r.ord as number, r]));
    const [slim, whole] = [byOrd.get(1)!, byOrd.get(2)!];
    expect(slim).toMatchObject({
      id: keys[0]!.id,
      account_id: null,
      name: null,
      scopes: null,
      budget_cents: 1_000,
    });
    expect(whole).toMatchObject({
      id: keys[1]!.id,
      account_id: 'acct',
      name: 'default',
      budget_cents: 1_000,
    });
    for (const row of [slim, whole]) expect(row.used_micros).toBeGreaterThan(0);
  });

  it('a reserve on a held key comes back busy; the others hold', async () => {
    expect(await whileHeld([keys[2]!.id], () => reserve([2, 0, 1]))).toEqual({ answered: [2, 3], busy: [1] });
    expect(await whileHeld([], () => reserve([0, 1]))).toEqual({ answered: [1, 2], busy: null });
  });
});
