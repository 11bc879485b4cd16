import { AgentKey } from '@agentkey/core';
import { manualClock, openDb, STRESS_TIMEOUT_MS, type TestDb } from '@agentkey/test-support/db.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

/**
 * Review (adversarial): the named limiter (`rateLimitHit`, the /signup limiter) counts in
 * `_rate_hit`: INSERT … ON CONFLICT DO NOTHING, then SELECT … FOR UPDATE of the bucket. Opening a
 * new bucket prunes up to 20 expired ones. A call whose INSERT found the bucket, and which then
 * waits for the bucket's row lock while a pruner deletes it, finds no row: it is answered ok and
 * counted nowhere. The test widens that window (between the caller's INSERT and its FOR UPDATE)
 * by opening the pruner's transaction before it prunes; the pruning itself is the library's own
 * `_rate_hit` for another bucket.
 */
let db: TestDb;
let ak: AgentKey;
const clock = manualClock();

beforeEach(async () => {
  db = await openDb();
  clock.set('2026-03-15T12:00:00Z');
  ak = new AgentKey({
    pool: db.newPool(),
    tableName: db.table,
    timeoutMs: STRESS_TIMEOUT_MS,
    now: clock.now,
  });
  await ak.migrate();
});

afterEach(async () => {
  await db.close();
});

// This test's own statements only: other suites running at once have rate windows of their own.
const lockWaitersSql = `SELECT count(*)::int AS n FROM pg_stat_activity
  WHERE wait_event_type = 'Lock' AND position($1 in query) > 0 AND pid <> pg_backend_pid()`;

/** The test's own schema (a fresh one per test), which its statements name. */
const ownSchema = () => `"${db.table.split('.')[0]}"`;

async function waitersOnLock(n: number) {
  for (let i = 0; i < 400; i++) {
    const { rows } = await db.pool.query(lockWaitersSql, [ownSchema()]);
    if (rows[0].n >= n) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('the callers never queued on the bucket lock');
}

describe('review: rateLimitHit while an expired bucket is pruned', () => {
  it('never admits more than `requests` calls in one window of a bucket', async () => {
    const limit = { requests: 2, windowSec: 60 };
    expect(await ak.rateLimitHit('signup|1.2.3.4', limit)).toEqual({ ok: true });
    expect(await ak.rateLimitHit('signup|1.2.3.4', limit)).toEqual({ ok: true });
    expect((await ak.rateLimitHit('signup|1.2.3.4', limit)).ok).toBe(false);
    // The window elapsed: the bucket's row is expired (prunable) and a new window may admit 2.
    clock.advance(61_000);
    const now = clock.now().toISOString();
    const windows = `${db.table}_rate_windows`;
    const fn = `${db.table}_rate_hit`;
    const pruner = await db.newPool().connect();
    try {
      await pruner.query('BEGIN');
      await pruner.query(`SELECT 1 FROM ${windows} WHERE bucket = $1 FOR UPDATE`, ['signup|1.2.3.4']);
      // Five calls from the same client: their INSERT finds the bucket, their FOR UPDATE waits.
      const burst = Array.from({ length: 5 }, () => ak.rateLimitHit('signup|1.2.3.4', limit));
      await waitersOnLock(5);
      // A new bucket opens and prunes the expired one (the library's own function), then commits.
      await pruner.query(`SELECT * FROM ${fn}($1, $2::timestamptz, 2, 60)`, ['signup|9.9.9.9', now]);
      await pruner.query('COMMIT');
      const answers = await Promise.all(burst);
      // More calls from the same client in the same window.
      for (let i = 0; i < 5; i++) answers.push(await ak.rateLimitHit('signup|1.2.3.4', limit));
      const admitted = answers.filter((a) => a.ok).length;
      expect(admitted).toBeLessThanOrEqual(2);
    } finally {
      pruner.release();
    }
  });
});

describe('review: rateLimitHit when its bucket row is locked past the deadline', () => {
  it('a call answered with a failure at its deadline leaves no statement waiting and counts nothing', async () => {
    const quick = new AgentKey({ pool: db.newPool(), tableName: db.table, timeoutMs: 300, now: clock.now });
    const limit = { requests: 2, windowSec: 60 };
    expect(await quick.rateLimitHit('signup|5.6.7.8', limit)).toEqual({ ok: true });
    const holder = await db.newPool().connect();
    let stillWaiting = -1;
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM ${db.table}_rate_windows WHERE bucket = $1 FOR UPDATE`, [
        'signup|5.6.7.8',
      ]);
      await expect(quick.rateLimitHit('signup|5.6.7.8', limit)).rejects.toThrow();
      // The caller was told the limiter could not answer; is the statement still queued on the lock?
      await new Promise((r) => setTimeout(r, 500));
      const { rows } = await db.pool.query(lockWaitersSql, [ownSchema()]);
      stillWaiting = rows[0].n;
      await holder.query('COMMIT');
    } finally {
      holder.release();
    }
    await new Promise((r) => setTimeout(r, 200));
    // One call counted so far (the failed one must not be): the second of two is admitted.
    const second = await quick.rateLimitHit('signup|5.6.7.8', limit);
    expect({ stillWaiting, second }).toEqual({ stillWaiting: 0, second: { ok: true } });
  });
});
