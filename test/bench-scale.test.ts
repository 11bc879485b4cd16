import { createHash } from 'node:crypto';
import { AgentKey } from '@agentkey/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bulkKey, fillBulk } from '../bench/src/scenarios/scale.js';
import { openDb, serverPool, type TestDb } from './support/db.js';

// The scale benchmark writes its rows in SQL and presents keys it derives in Node: both must agree
// with what AgentKey computes, or every call it times would be a refusal.
describe('the scale benchmark’s bulk rows (server only)', () => {
  let db: TestDb;
  const admin = serverPool(undefined, 2);
  beforeAll(async () => {
    db = await openDb('postgres');
  });
  afterAll(async () => {
    await admin.end();
    await db.close();
  });

  it('every bulk key authorizes as its own row, and nothing else does', async () => {
    const ak = new AgentKey({ pool: db.pool, tableName: db.table });
    await ak.migrate();
    const { id } = await ak.create({ accountId: 'template', budgetCents: 1000, scopes: ['chat'] });
    await fillBulk(admin, db.table, id, 'seed', 50);
    const { rows } = await db.pool.query(
      `SELECT count(*)::int AS n, count(DISTINCT account_id)::int AS a FROM ${db.table}`,
    );
    expect(rows[0]).toEqual({ n: 50, a: 50 });
    for (const i of [0, 17, 49]) {
      const key = bulkKey('seed', i);
      expect(key).toMatch(/^ak_[0-9a-f]{48}$/);
      const hash = createHash('sha256').update(key).digest('hex');
      const row = (
        await db.pool.query(`SELECT account_id, key_prefix FROM ${db.table} WHERE key_hash = $1`, [hash])
      ).rows[0];
      expect(row).toEqual({ account_id: `acct_${i}`, key_prefix: key.slice(0, 11) });
      expect(await ak.authorize(key, { scope: 'chat', costCents: 1 })).toMatchObject({
        ok: true,
        principal: { accountId: `acct_${i}` },
      });
    }
    expect(await ak.authorize(bulkKey('seed', 50), { costCents: 1 })).toMatchObject({ ok: false });
    expect(await ak.authorize(bulkKey('other', 0), { costCents: 1 })).toMatchObject({ ok: false });
  });
});
