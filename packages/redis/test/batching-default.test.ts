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

/** A pool that records the most statements it ever had running at once. */
function peakPool(pool: Queryable) {
  const seen = {
    running: 0,
    peak: 0,
    async query(text: string, params?: unknown[]) {
      seen.running += 1;
      seen.peak = Math.max(seen.peak, seen.running);
      try {
        return await pool.query(text, params);
      } finally {
        seen.running -= 1;
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
