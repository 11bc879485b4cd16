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
  let spent = false;
  let held: Array<() => void> = [];
  // While closed, the resolver's voids wait here before they are sent (see `voidLater`).
  let voidGate: { wait: Promise<void>; open: () => void } | undefined;
  const writes = /^(?![\s\S]*void_request)[\s\S]*(_requests|_charge"?\(|_close_hold"?\()/;
  const pool: Queryable = {
    async query(text, params) {
      const sql = typeof text === 'string' ? text : String((text as { text?: unknown }).text);
      // Decided when the statement is sent, not when its answer comes back: the test sees the
      // claim committed (on another connection) and disarms, and that can happen before this
      // connection's answer is read — deciding on the answer let it through (the flake of stops
      // 17 to 20: "the call lost its answer").
      const eligible = armed && writes.test(sql);
      if (voidGate && /void_request/.test(sql)) await voidGate.wait;
      const result = await real.query(text, params);
      const row = (result as { rows: Array<Record<string, unknown>> }).rows[0];

      if (!eligible || spent || !row || (row.outcome !== undefined && row.outcome !== 'ok')) return result;
      spent = true;
      armed = false;

      return new Promise((resolve) => held.push(() => resolve(result)));
    },
  };
  return {
    pool,
    /** `lose-answer` loses the next written claim's answer; `pass` stops arming new statements. */
    set(mode: 'lose-answer' | 'pass') {
      armed = mode === 'lose-answer';
      if (armed) spent = false;
    },
    /** Voids wait before they are sent until `passVoids()`. */
    holdVoids() {
      let open = () => {};
      const wait = new Promise<void>((r) => {
        open = r;
      });
      voidGate ??= { wait, open };
    },
    passVoids() {
      voidGate?.open();
      voidGate = undefined;
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
 * a budget change). `lostThen` runs `call` with its answer lost; holds any void back until its
 * claim committed and is locked, so the resolver's void waits on that lock; runs `meanwhile`;
 * then lets the void through and resolves everything. `q` runs SQL with `{T}` standing for the test's table name.
 */
export function voidLater(db: TestDb, lossy: ReturnType<typeof answerLosingPool>, ak: AgentKey) {
  const q = async (sql: string, params: unknown[] = []) =>
    (await db.pool.query(sql.replaceAll('{T}', db.table), params)).rows;
  async function lostThen<T>(principal: number, call: () => Promise<T>, meanwhile: () => Promise<void>) {
    // The claims already there: request ids are random UUIDs, so "the newest" is the one not
    // among them (ordering by id picked an older claim half the time, whose lock held nothing back).
    const before = (await q(`SELECT request_id FROM {T}_requests WHERE principal_id = $1`, [principal])).map(
      (r) => r.request_id as string,
    );
    // The call's deadline can pass before the claim is locked below (a busy machine): its void
    // must not run in that gap, or it lands before `meanwhile` instead of after.
    lossy.holdVoids();
    lossy.set('lose-answer');
    const answer = call();
    // Every new claim (a batch commits its calls' claims in one statement): each one's void waits.
    let rids: string[] = [];
    for (let i = 0; i < 200 && rids.length === 0; i++) {
      const rows = await q(
        `SELECT request_id FROM {T}_requests WHERE principal_id = $1 AND request_id <> ALL($2::uuid[])`,
        [principal, before],
      );
      rids = rows.map((r) => r.request_id as string);
      if (rids.length === 0) await new Promise((r) => setTimeout(r, 10));
    }
    lossy.set('pass');
    if (rids.length === 0) lossy.passVoids();
    expect(rids.length, 'the call committed a claim').toBeGreaterThan(0);
    const locker: pg.PoolClient = await (db.pool as pg.Pool).connect();
    try {
      await locker.query('BEGIN');
      await locker.query(`SELECT 1 FROM ${db.table}_requests WHERE request_id = ANY($1::uuid[]) FOR UPDATE`, [
        rids,
      ]);
    } finally {
      // From here a void is sent and waits on the claim's lock until `meanwhile` has run.
      lossy.passVoids();
    }
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
