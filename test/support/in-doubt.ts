import { AgentKey, type Queryable } from '@agentkey/core';
import type pg from 'pg';
import { expect } from 'vitest';
import { type manualClock, openStore, type TestDb } from './db.js';
import { resolveAll } from './lossy-pool.js';

/**
 * A pool whose answers to claim-writing statements that did write (a row came back, not refused)
 * are held until `release()` while armed: the statement commits, its caller never hears.
 */
export function answerLosingPool(real: Queryable) {
  let armed = false;
  let held: Array<() => void> = [];
  const writes = /^(?![\s\S]*void_request)[\s\S]*(_requests|_charge"?\(|_close_hold"?\()/;
  const pool: Queryable = {
    async query(text, params) {
      const result = await real.query(text, params);
      const sql = typeof text === 'string' ? text : String((text as { text?: unknown }).text);
      const row = (result as { rows: Array<Record<string, unknown>> }).rows[0];

      if (!armed || !writes.test(sql) || !row || (row.outcome !== undefined && row.outcome !== 'ok'))
        return result;
      armed = false;

      return new Promise((resolve) => held.push(() => resolve(result)));
    },
  };
  return {
    pool,
    set(mode: 'lose-answer' | 'pass') {
      armed = mode === 'lose-answer';
    },
    async release() {
      const now = held;
      held = [];
      for (const go of now) go();
    },
  };
}

/**
 * A void that lands after the counters it refunds have moved on (a period roll, an admin reset,
 * a budget change). `lostThen` runs `call` with its answer lost; once its claim committed, locks
 * the claim so the resolver's void waits; runs `meanwhile`; then lets the void through and
 * resolves everything. `q` runs SQL with `{T}` standing for the test's table name.
 */
export function voidLater(db: TestDb, lossy: ReturnType<typeof answerLosingPool>, ak: AgentKey) {
  const q = async (sql: string, params: unknown[] = []) =>
    (await db.pool.query(sql.replaceAll('{T}', db.table), params)).rows;
  async function lostThen<T>(principal: number, call: () => Promise<T>, meanwhile: () => Promise<void>) {
    const before = (
      await q(`SELECT count(*)::int AS n FROM {T}_requests WHERE principal_id = $1`, [principal])
    )[0]!.n as number;
    lossy.set('lose-answer');
    const answer = call();
    let rid: string | undefined;
    for (let i = 0; i < 200 && !rid; i++) {
      const rows = await q(
        `SELECT request_id FROM {T}_requests WHERE principal_id = $1 ORDER BY request_id DESC OFFSET $2`,
        [principal, before],
      );
      rid = rows[0]?.request_id;
      if (!rid) await new Promise((r) => setTimeout(r, 10));
    }
    expect(rid).toBeDefined();
    lossy.set('pass');
    const locker: pg.PoolClient = await (db.pool as pg.Pool).connect();
    await locker.query('BEGIN');
    await locker.query(`SELECT 1 FROM ${db.table}_requests WHERE request_id = $1 FOR UPDATE`, [rid]);
    const result = await answer;
    try {
      // The scenario is a call whose effect committed but whose answer was lost: it (each call, in
      // a batch) must have been answered unavailable, or what follows tests something else.
      type Answer = { ok?: boolean; error?: { code?: string } } | undefined;
      const answers: Answer[] = Array.isArray(result) ? result : [result as Answer];
      const codes = answers.map((r) => (r?.ok === false ? r.error?.code : 'answered'));
      expect(new Set(codes), 'the call lost its answer').toEqual(new Set(['unavailable']));
      await meanwhile();
    } finally {
      await locker.query('COMMIT');
      locker.release();
    }
    await resolveAll(ak);
    await lossy.release();
    return result;
  }
  return { q, lostThen };
}

/**
 * What the lost-answer suites share: a migrated store on `clock` (`direct`), the same store behind
 * an answer-losing pool with a short deadline (`ak`), and `voidLater` over the two (`h`).
 */
export async function openLostAnswerStore(clock: ReturnType<typeof manualClock>, timeoutMs = 500) {
  // Never with the suites' counter (core-counter): these suites test PostgreSQL's voids, and a
  // settle whose answer is lost leaves another process's mirror counting its hold until the
  // mirror's lease runs out (packages/redis/README.md, Limits) — a refusal PostgreSQL would not give.
  const { db, ak: direct } = await openStore('postgres', { now: clock.now, counter: undefined });
  const lossy = answerLosingPool(db.pool);
  const ak = new AgentKey({ pool: lossy.pool, tableName: db.table, timeoutMs, now: clock.now });
  return { db, direct, lossy, ak, h: voidLater(db, lossy, ak) };
}
