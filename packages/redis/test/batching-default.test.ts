import { AgentKey, type Queryable } from '@agentkey/core';
import { type TestCounter, testCounter } from '@agentkey/test-support/counter.js';
import { openDb, STRESS_TIMEOUT_MS, type TestDb } from '@agentkey/test-support/db.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

// With a counter in front, charges reach PostgreSQL in waves (one per admission batch), and the
// default group commit sends them one statement at a time (input/options.ts checkBatching).

let db: TestDb;
let tc: TestCounter;

beforeEach(async () => {
  db = await openDb();
  tc = testCounter(undefined, { trustMs: 60_000 });
});

afterEach(async () => {
  tc.close();
  await db.close();
});

/**
 * A statement that has run this long no longer counts against `maxInFlight` (the coalescer's
 * SLOW_MS is 100 ms; half of it leaves room for the work between its timer and the query).
 */
const COUNTING_MS = 50;

/**
 * A pool that records the most statements it ever had running at once among those that still
 * count against the limit: on a loaded machine a statement past the coalescer's SLOW_MS rightly
 * lets the next one go (seen in CI: a peak of 2 with the default of 1).
 */
function peakPool(pool: Queryable) {
  const started = new Set<{ at: number }>();
  const seen = {
    peak: 0,
    async query(text: string, params?: unknown[]) {
      const me = { at: performance.now() };
      let counting = 1;
      for (const other of started) if (me.at - other.at < COUNTING_MS) counting++;
      seen.peak = Math.max(seen.peak, counting);
      started.add(me);
      try {
        return await pool.query(text, params);
      } finally {
        started.delete(me);
      }
    },
  };
  return seen;
}

/** 64 clients × 20 charges over 64 keys; the peak of statements running at once. */
async function peakOf(batching: { maxInFlight?: number; maxBatch: number }) {
  const pool = peakPool(db.pool);
  const ak = new AgentKey({
    pool: pool as unknown as Queryable,
    tableName: db.table,
    timeoutMs: STRESS_TIMEOUT_MS,
    counter: tc.counter,
    batching,
  });
  await ak.migrate();
  const keys = await Promise.all(
    Array.from(
      { length: 64 },
      async (_, i) => (await ak.create({ accountId: `a${i}`, budgetCents: 1_000_000 })).key,
    ),
  );
  pool.peak = 0;
  let ok = 0;
  // 64 clients, each calling again as soon as answered: waves of admissions overlap.
  await Promise.all(
    Array.from({ length: 64 }, async (_, c) => {
      for (let i = 0; i < 20; i++)
        if ((await ak.authorize(keys[(c + i) % keys.length]!, { costCents: 1 })).ok) ok++;
    }),
  );
  const { rows } = await db.pool.query(`SELECT sum(budget_used_cents)::int AS used FROM ${db.table}`);
  return { peak: pool.peak, ok, used: rows[0].used as number };
}

describe('group commit with a counter in front', () => {
  it('sends one charge statement at a time by default, and every charge lands', async () => {
    // Batches of 8: the 64 calls of a wave need 8 statements, so 2 in flight would show.
    const { peak, ok, used } = await peakOf({ maxBatch: 8 });
    expect(ok).toBe(20 * 64);
    expect(used).toBe(20 * 64);
    expect(peak).toBe(1);
  });

  it('an explicit maxInFlight still applies', async () => {
    const { peak, ok, used } = await peakOf({ maxInFlight: 4, maxBatch: 8 });
    expect(ok).toBe(20 * 64);
    expect(used).toBe(20 * 64);
    // More than one at once: the default of 1 did not override it. (Not exactly 4: on a loaded
    // machine a wave may not fill four at the same moment, and a statement past SLOW_MS stops
    // counting against the limit.)
    expect(peak).toBeGreaterThan(1);
  });
});
