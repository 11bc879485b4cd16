import { createServer } from 'node:net';
import { AgentKey } from '@agentkey/core';
import { openStore, type TestDb } from '@agentkey/test-support/db.js';
import { resolveAll } from '@agentkey/test-support/lossy-pool.js';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Guarantee 6, bounded time: a call answers `unavailable` by its deadline whatever the pool does,
 * and what it sent does not wait on a row lock beyond that deadline on the server either.
 */
describe('the deadline (server only)', () => {
  let db: TestDb;
  let ak: AgentKey;
  beforeAll(async () => {
    ({ db, ak } = await openStore('postgres', { timeoutMs: 200 }));
  });
  afterAll(() => db.close());

  it('a pool that never answers: every request-path call answers unavailable or rejects by the deadline', async () => {
    const frozen = new AgentKey({ pool: { query: () => new Promise(() => {}) }, timeoutMs: 100 });
    const key = `ak_${'2'.repeat(48)}`;
    for (const r of [
      await frozen.authorize(key, { costCents: 1 }),
      await frozen.reserve(key, { maxCents: 1 }),
      await frozen.authorize({ subject: 'frozen-subject' }, { costCents: 1 }),
    ]) {
      expect(r).toMatchObject({ ok: false, error: { code: 'unavailable', retryAfterSec: 1 } });
    }
    for (const r of [await frozen.settle('1', { costCents: 1 }), await frozen.release('1')]) {
      expect(r).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    }
    await expect(frozen.validate(key)).rejects.toThrow(/did not answer within 100 ms/);
    await expect(frozen.trackUsage(key, { costCents: 1 })).rejects.toThrow(/timeoutMs/);
    const gate = frozen.gate();
    expect(await gate.authenticate(key, { costCents: 1 })).toMatchObject({
      ok: false,
      error: { code: 'unavailable' },
    });
  });

  it('a call whose connection was refused never reached the server: nothing is left in doubt', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const pool = new pg.Pool({ host: '127.0.0.1', port, user: 'nobody', database: 'none' });
    try {
      const down = new AgentKey({ pool, timeoutMs: 2000 });
      const r = await down.authorize(`ak_${'3'.repeat(48)}`, { costCents: 1 });
      expect(r).toMatchObject({ ok: false, error: { code: 'unavailable', cause: { code: 'ECONNREFUSED' } } });
      // In doubt, it would stay pending: this database never answers.
      expect(await down.resolveInDoubt()).toBe(0);
    } finally {
      await pool.end();
    }
  });

  it('a statement waiting on a row locked elsewhere gives up on the server too (lock_timeout)', async () => {
    const { key, id } = await ak.create({ accountId: 'locked', budgetCents: 100 });
    const holder = db.newPool();
    const client = await holder.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SELECT 1 FROM ${db.table} WHERE id = $1 FOR UPDATE`, [id]);
      const [lean, keyed] = await Promise.all([
        ak.authorize(key, { costCents: 1 }),
        ak.authorize(key, { costCents: 1, idempotencyKey: 'locked-1' }),
      ]);
      expect([lean.ok, keyed.ok]).toEqual([false, false]);
      // While the lock is still held, nothing of ours is left waiting for it on the server.
      const waiting = async () =>
        (
          await client.query(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()
               AND query LIKE '%' || $1 || '%'`,
            [db.table.split('.')[0]],
          )
        ).rows[0].n as number;
      while ((await waiting()) > 0) await new Promise((r) => setTimeout(r, 20));
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
    await resolveAll(ak);
    expect((await ak.getKey(id))!.budget.usedCents).toBe(0);
  });
});
