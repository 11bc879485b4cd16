import { AgentKey, type AuthorizeResult } from '@agentkey/core';
import {
  manualClock,
  openStore,
  STRESS_TIMEOUT_MS,
  type TestDb,
  withCounter,
} from '@agentkey/test-support/db.js';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * A key's rate window judged and counted inside the lean and batched charge statements
 * (sql/rate-lean.ts): exactly `requests` per window under concurrency, across two stores (two
 * pools, as two processes), at the window's boundary, in batches that mix keys with and without a
 * window — and the admitted calls take no engine call (the per-call fallback this replaced).
 * Runs with a Redis counter in front in the core-counter project (test/support/db.ts).
 */

/** Counts the engine-function calls (`…_charge"(`) sent through `pool`. */
function countEngine(pool: pg.Pool): { engine: number } {
  const counts = { engine: 0 };
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const text = typeof args[0] === 'string' ? args[0] : ((args[0] as { text?: string }).text ?? '');
    if (text.includes('_charge"(')) counts.engine++;
    return query(...args);
  };
  return counts;
}

const code = (r: AuthorizeResult) => (r.ok ? 'ok' : r.error.code);
const tally = (rs: AuthorizeResult[]) => {
  const out: Record<string, number> = {};
  for (const r of rs) out[code(r)] = (out[code(r)] ?? 0) + 1;
  return out;
};

describe('rate windows in the batched charge statements (postgres)', () => {
  let db: TestDb;
  let a: AgentKey;
  let b: AgentKey;
  let counts: { engine: number };
  const clock = manualClock();
  const T = clock.now().getTime();
  beforeAll(async () => {
    ({ db } = await openStore('postgres', { now: clock.now, ledger: true }));
    const pa = db.newPool();
    counts = countEngine(pa);
    const store = (pool: pg.Pool) =>
      new AgentKey({
        pool,
        tableName: db.table,
        timeoutMs: STRESS_TIMEOUT_MS,
        now: () => clock.now(),
        ledger: true,
        ...withCounter(db),
      });
    a = store(pa);
    b = store(db.newPool());
  });
  afterAll(() => db.close());

  const windowOf = async (id: number) =>
    (
      await db.pool.query(
        `SELECT rate_count, (date_part('epoch', rate_window_at) * 1000)::float8 AS at,
          budget_used_micros::float8 AS used,
          (SELECT count(*)::int FROM ${db.table}_ledger l WHERE l.principal_id = k.id AND l.kind = 'charge') AS charges
        FROM ${db.table} k WHERE id = $1`,
        [id],
      )
    ).rows[0] as { rate_count: number; at: number; used: number; charges: number };
  const burst = (ak: AgentKey, key: string, n: number) =>
    Promise.all(Array.from({ length: n }, () => ak.authorize(key, { costCents: 1 })));

  it('32 concurrent calls on one key: exactly `requests` admitted, each with its own remaining', async () => {
    const { key, id } = await a.create({ accountId: 'one', rateLimit: { requests: 10, windowSec: 60 } });
    await a.getKey(id);
    clock.set(new Date(T));
    const rs = await burst(a, key, 32);
    expect(tally(rs)).toEqual({ ok: 10, rate_limited: 22 });
    // Each admitted call reports the window as it left it: 9, 8, … 0 left, once each.
    const left = rs.flatMap((r) => (r.ok ? [r.rateLimit?.remaining] : [])).sort((x, y) => x! - y!);
    expect(left).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await windowOf(id)).toEqual({ rate_count: 10, at: T, used: 10 * 10_000, charges: 10 });
  });

  it('two stores on two pools share one window: exactly `requests` between them', async () => {
    const { key, id } = await a.create({ accountId: 'two', rateLimit: { requests: 20, windowSec: 60 } });
    clock.set(new Date(T));
    const rs = (await Promise.all([burst(a, key, 32), burst(b, key, 32)])).flat();
    expect(tally(rs)).toEqual({ ok: 20, rate_limited: 44 });
    expect(await windowOf(id)).toEqual({ rate_count: 20, at: T, used: 20 * 10_000, charges: 20 });
  });

  it('at the boundary: none a millisecond before it, `requests` again from it on', async () => {
    const { key, id } = await a.create({ accountId: 'edge', rateLimit: { requests: 4, windowSec: 1 } });
    clock.set(new Date(T));
    expect(tally(await burst(a, key, 32))).toEqual({ ok: 4, rate_limited: 28 });
    clock.set(new Date(T + 999));
    const before = await Promise.all([burst(a, key, 16), burst(b, key, 16)]);
    expect(tally(before.flat())).toEqual({ rate_limited: 32 });
    expect(before.flat().every((r) => !r.ok && r.error.rateLimit?.resetSec === 1)).toBe(true);
    clock.set(new Date(T + 1000));
    expect(tally((await Promise.all([burst(a, key, 16), burst(b, key, 16)])).flat())).toEqual({
      ok: 4,
      rate_limited: 28,
    });
    expect(await windowOf(id)).toMatchObject({ rate_count: 4, at: T + 1000, charges: 8 });
  });

  it('one batch spanning the boundary: the calls past it open the next window, never more than `requests`', async () => {
    const { key, id } = await a.create({ accountId: 'span', rateLimit: { requests: 4, windowSec: 1 } });
    clock.set(new Date(T));
    expect(tally(await burst(a, key, 4))).toEqual({ ok: 4 });
    // Each call reads the clock once as it starts: alternately just before and at the boundary.
    let i = 0;
    const spanning = new AgentKey({
      pool: db.newPool(),
      tableName: db.table,
      timeoutMs: STRESS_TIMEOUT_MS,
      now: () => new Date(T + 999 + (i++ % 2)),
      ...withCounter(db),
    });
    const rs = await burst(spanning, key, 32);
    // The full window refuses its late calls; the next one, opened at the boundary, admits four.
    expect(tally(rs)).toEqual({ ok: 4, rate_limited: 28 });
    expect(await windowOf(id)).toMatchObject({ rate_count: 4, at: T + 1000, charges: 8 });
  });

  it('a batch mixing keys with and without windows: each bound by its own, admitted calls take no engine call', async () => {
    clock.set(new Date(T));
    await a.setAccountBudget('capped', { budgetCents: 1000 });
    const plain = await a.create({ accountId: 'mixed' });
    const calls = await a.create({ accountId: 'mixed', rateLimit: { requests: 5, windowSec: 60 } });
    const cents = await a.create({ accountId: 'mixed', rateLimit: { cents: 3, windowSec: 60 } });
    const capped = await a.create({ accountId: 'capped', rateLimit: { requests: 4, windowSec: 60 } });
    const keys = [plain, calls, cents, capped];
    // Descriptors known (the ceiling flag too), as on a warm process.
    for (const k of keys) expect((await a.authorize(k.key, {})).ok).toBe(true);
    clock.set(new Date(T + 60_000));
    const engineBefore = counts.engine;
    const rs = await Promise.all(
      Array.from({ length: 40 }, (_, j) => a.authorize(keys[j % 4]!.key, { costCents: 1 })),
    );
    const byKey = keys.map((_, k) => tally(rs.filter((_, j) => j % 4 === k)));
    expect(byKey).toEqual([
      { ok: 10 },
      { ok: 5, rate_limited: 5 },
      { ok: 3, rate_limited: 7 },
      { ok: 4, rate_limited: 6 },
    ]);
    // Only a refusal may need the engine (to say why); with a counter it may come from Redis.
    expect(counts.engine - engineBefore).toBeLessThanOrEqual(18);
    expect(rs.filter((_, j) => j % 4 === 0).every((r) => r.ok && r.rateLimit === undefined)).toBe(true);
    const centsLeft = rs.flatMap((r, j) => (j % 4 === 2 && r.ok ? [r.rateLimit?.remaining] : []));
    expect(centsLeft.sort()).toEqual([0, 1, 2]);
    for (const [k, n] of [
      [plain, 10],
      [calls, 5],
      [cents, 3],
      [capped, 4],
    ] as const) {
      expect((await windowOf(k.id)).charges).toBe(n);
      expect((await a.getKey(k.id))!.budget.usedCents).toBe(n);
    }
    expect((await windowOf(calls.id)).rate_count).toBe(5);
    expect((await windowOf(capped.id)).rate_count).toBe(4);
    expect((await a.getAccount('capped'))?.usedCents).toBe(4);
  });

  it('keys with windows never reached: every one of 100 concurrent calls batched, none to the engine', async () => {
    clock.set(new Date(T + 120_000));
    const made: Array<{ key: string; id: number }> = [];
    for (let k = 0; k < 20; k++)
      made.push(await a.create({ accountId: `many_${k % 4}`, rateLimit: { requests: 1000, windowSec: 60 } }));
    for (const k of made) await a.authorize(k.key, { costCents: 1 });
    const engineBefore = counts.engine;
    const rs = await Promise.all(
      Array.from({ length: 100 }, (_, j) => a.authorize(made[j % 20]!.key, { costCents: 1 })),
    );
    expect(tally(rs)).toEqual({ ok: 100 });
    expect(counts.engine - engineBefore).toBe(0);
    for (const k of made) expect((await windowOf(k.id)).rate_count).toBe(6);
  });
});
