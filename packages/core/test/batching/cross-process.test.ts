import { AgentKey, type Queryable } from '@agentkey/core';
import { openStore, STRESS_TIMEOUT_MS, type TestDb } from '@agentkey/test-support/db.js';
import { lossyPool, resolveAll } from '@agentkey/test-support/lossy-pool.js';
import { inParallel } from '@agentkey/test-support/parallel.js';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** Statements a store sent, by kind: the engine functions, batch forms (skipping or waiting), lone ones. */
interface Counts {
  engine: number;
  skip: number;
  wait: number;
  lone: number;
}

/**
 * Separate stores on separate pools, as separate processes have (each its own coalescers), on one
 * key (coalescer.ts lanes). Each pool is a real pg.Pool that counts what it is asked to run.
 */
describe('one hot key from several processes (server only)', () => {
  let db: TestDb;
  let ak: AgentKey;
  beforeAll(async () => {
    ({ db, ak } = await openStore('postgres'));
  });
  afterAll(() => db.close());
  const q = async (sql: string, params: unknown[] = []) =>
    (await db.pool.query(sql.replaceAll('{T}', db.table).replaceAll('{L}', `${db.table}_ledger`), params))
      .rows;

  function store(errors: unknown[]): { ak: AgentKey; counts: Counts } {
    const pool: pg.Pool = db.newPool();
    const counts: Counts = { engine: 0, skip: 0, wait: 0, lone: 0 };
    const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
    (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const text = typeof args[0] === 'string' ? args[0] : String((args[0] as { text?: string }).text);
      if (text.includes('_charge"(') || text.includes('_close_hold"(')) counts.engine++;
      else if (text.includes('WITH ORDINALITY')) counts[text.includes('SKIP LOCKED') ? 'skip' : 'wait']++;
      else counts.lone++;
      return query(...args);
    };
    const onError = (error: unknown) => errors.push(error);
    return { ak: new AgentKey({ pool, tableName: db.table, timeoutMs: STRESS_TIMEOUT_MS, onError }), counts };
  }

  /** Store errors reported, but for a pooler's lost prepared statement (reported once, then plain text). */
  const failures = (errors: unknown[]) =>
    errors.filter((e) => (e as { name?: unknown } | null)?.name !== 'PreparedStatementLostError');

  /** Resolves once `n` backends wait on a row lock in a statement of this test's schema. */
  async function lockWaiters(n: number): Promise<void> {
    for (;;) {
      const [row] = await q(
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE wait_event_type = 'Lock' AND state = 'active' AND position($1 in query) > 0`,
        [db.schema],
      );
      if (row.n >= n) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Takes the key row `id` in a session of its own, as another process's statement would; returns its commit. */
  async function holdRow(id: number): Promise<() => Promise<void>> {
    const session = await db.newPool().connect();
    await session.query('BEGIN');
    await session.query(`SELECT 1 FROM ${db.table} WHERE id = $1 FOR UPDATE`, [id]);
    return async () => {
      await session.query('COMMIT');
      session.release();
    };
  }

  it("two processes charging one key that a third holds: every charge lands once, none goes to the engine, each process's calls wait in one statement", async () => {
    const errors: unknown[] = [];
    const [a, b] = [store(errors), store(errors)];
    const { key, id } = await ak.create({ accountId: 'hot', budgetCents: 100_000 });
    // Both stores learn the key first (a lone charge each), so what follows is their batched path.
    for (const s of [a, b]) expect((await s.ak.authorize(key, { costCents: 1 })).ok).toBe(true);
    const commit = await holdRow(id);
    const calls = Array.from(
      { length: 200 },
      (_, i) => () => (i % 2 ? a : b).ak.authorize(key, { costCents: 1 }),
    );
    const answers = inParallel(calls, 32);
    // Each store has found the row taken and is waiting for it (not skipping it round and round).
    await lockWaiters(2);
    await commit();
    const results = await answers;
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(failures(errors)).toEqual([]);
    // Then a stream from both with nothing else holding the row.
    const more = await inParallel(
      Array.from({ length: 400 }, (_, i) => () => (i % 2 ? a : b).ak.authorize(key, { costCents: 1 })),
      32,
    );
    expect(more.every((r) => r.ok)).toBe(true);

    const [row] = await q('SELECT budget_used_micros::float8 AS m FROM {T} WHERE id = $1', [id]);
    expect(row.m).toBe(602 * 10_000);
    const [ledger] = await q(
      `SELECT count(*)::int AS n, sum(amount_micros)::float8 AS m FROM {L} WHERE principal_id = $1 AND kind = 'charge'`,
      [id],
    );
    expect(ledger).toEqual({ n: 602, m: 602 * 10_000 });
    const [claims] = await q(
      `SELECT count(DISTINCT request_id)::int AS n FROM {T}_requests WHERE principal_id = $1 AND kind = 'charge'`,
      [id],
    );
    expect(claims.n).toBe(602);
    // Skipped rows used to go round five times and then to the engine, call by call.
    expect(a.counts.engine + b.counts.engine).toBe(0);
    // Far fewer statements than calls: the waiting calls shared statements.
    const sent = (c: Counts) => c.engine + c.skip + c.wait + c.lone;
    expect(sent(a.counts) + sent(b.counts)).toBeLessThan(300);
  });

  it('charges, holds and settles on the same keys and account from two processes never deadlock', async () => {
    const errors: unknown[] = [];
    const [a, b] = [store(errors), store(errors)];
    await ak.setAccountBudget('ceiling', { budgetCents: 100_000 });
    const capped = await Promise.all(
      [1, 2].map(() => ak.create({ accountId: 'ceiling', budgetCents: 50_000 })),
    );
    const plain = await Promise.all([1, 2].map(() => ak.create({ accountId: 'plain', budgetCents: 50_000 })));
    const keys = [...capped, ...plain];
    let settled = 0;
    const ops = Array.from({ length: 600 }, (_, i) => async () => {
      const k = keys[(i * 7) % keys.length]!;
      const s = i % 2 ? a : b;
      if (i % 3 === 0) {
        const held = await s.ak.authorize(k.key, { holdCents: 2 });
        if (!held.ok || !held.hold) return held.ok;
        const done = await (i % 6 === 0 ? a : b).ak.settle(held.hold.id, { costCents: 1.5 });
        if (done.ok) settled += 1.5;
        return done.ok;
      }
      return (await s.ak.authorize(k.key, { costCents: 1 })).ok;
    });
    const results = await inParallel(ops, 32);
    expect(results.every(Boolean)).toBe(true);
    expect(failures(errors)).toEqual([]);
    expect(settled).toBe(200 * 1.5);
    const rows = await q(
      'SELECT account_id, sum(budget_used_micros)::float8 AS used, sum(held_micros)::float8 AS held FROM {T} WHERE account_id IN ($1, $2) GROUP BY account_id',
      ['ceiling', 'plain'],
    );
    const total = rows.reduce((sum, r) => sum + r.used, 0);
    expect(total).toBe((400 + 200 * 1.5) * 10_000);
    expect(rows.every((r) => r.held === 0)).toBe(true);
    const [account] = await q(
      `SELECT budget_used_micros::float8 AS used FROM {T}_accounts WHERE account_id = 'ceiling'`,
    );
    expect(account.used).toBe(rows.find((r) => r.account_id === 'ceiling')!.used);
  });

  // A waiting statement commits without waiting for the disk, so its row is free sooner
  // (sql/requests.ts batchLocks); a durable commit follows before any call is answered.
  const usedOf = async (id: number) =>
    (await q('SELECT budget_used_micros::float8 AS m FROM {T} WHERE id = $1', [id]))[0].m as number;
  const FLUSH = /pg_logical_emit_message/;

  it("no charge of a batch is acknowledged before the batch's flush returns", async () => {
    const lossy = lossyPool(db.pool, FLUSH);
    const store = new AgentKey({ pool: lossy.pool, tableName: db.table, timeoutMs: STRESS_TIMEOUT_MS });
    const { key, id } = await ak.create({ accountId: 'durable', budgetCents: 100 });
    lossy.set('lose-answer');
    // Another process holds the row: the calls' batch skips it, and their lane waits for it.
    const commit = await holdRow(id);
    let answered = 0;
    const calls = Array.from({ length: 6 }, () =>
      store.authorize(key, { costCents: 1 }).then((r) => {
        answered++;
        return r;
      }),
    );
    await lockWaiters(1);
    await commit();
    // The waiting statement has committed (its charges are visible), and its flush is held.
    while (lossy.held === 0 || (await usedOf(id)) < 6 * 10_000) await new Promise((r) => setTimeout(r, 10));
    expect(answered).toBe(0);
    await lossy.release();
    expect((await Promise.all(calls)).every((r) => r.ok)).toBe(true);
    expect(await usedOf(id)).toBe(6 * 10_000);
  });

  it('a batch whose flush fails, even as a connection that was never made, answers unavailable and is voided', async () => {
    let failing = true;
    const refused = () =>
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const pool: Queryable = {
      query(text, params) {
        if (failing && FLUSH.test(text)) return Promise.reject(refused());
        return db.pool.query(text, params);
      },
    };
    const errors: unknown[] = [];
    const store = new AgentKey({
      pool,
      tableName: db.table,
      timeoutMs: STRESS_TIMEOUT_MS,
      onError: (e) => errors.push(e),
    });
    const { key, id } = await ak.create({ accountId: 'durable', budgetCents: 100 });
    const commit = await holdRow(id);
    const answers = Promise.all(Array.from({ length: 6 }, () => store.authorize(key, { costCents: 1 })));
    await lockWaiters(1);
    await commit();
    const results = await answers;
    expect(results.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual(Array(6).fill('unavailable'));
    failing = false;
    await resolveAll(store);
    // The batch had committed: every charge it made is voided, none left counting.
    expect(await usedOf(id)).toBe(0);
    const [ledger] = (
      await db.pool.query(
        `SELECT count(*) FILTER (WHERE kind = 'charge')::int AS charges, count(*) FILTER (WHERE kind = 'void')::int AS voids
          FROM ${db.table}_ledger WHERE principal_id = $1`,
        [id],
      )
    ).rows;
    expect(ledger.voids).toBe(ledger.charges);
    expect(ledger.charges).toBeGreaterThan(0);
  });
});
