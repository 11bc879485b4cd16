import { AgentKey, type Queryable } from '@agentkey/core';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock, openStore, type TestDb } from '../../../test/support/db.js';
import { EVENTS, replay } from '../../../test/support/ledger.js';
import { resolveAll } from '../../../test/support/lossy-pool.js';

/**
 * A pool whose answers to claim-writing statements that did write (a row came back, not refused)
 * are held until `release()` while armed: the statement commits, its caller never hears.
 */
function answerLosingPool(real: Queryable) {
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
 * A void that lands after the counters it refunds have moved on (a period roll,
 * an admin reset). The call's answer is lost (lossy-pool), its claim row is locked by another
 * session so the resolver's void waits, then the world changes, then the void runs.
 */
const TIMEOUT_MS = 500;

describe('voids after a period roll or a reset', () => {
  let db: TestDb;
  let lossy: ReturnType<typeof answerLosingPool>;
  let ak: AgentKey;
  let direct: AgentKey;
  const clock = manualClock(new Date('2026-03-15T23:59:00Z'));
  beforeAll(async () => {
    ({ db, ak: direct } = await openStore('postgres', { now: clock.now }));
    lossy = answerLosingPool(db.pool);
    ak = new AgentKey({ pool: lossy.pool, tableName: db.table, timeoutMs: TIMEOUT_MS, now: clock.now });
  });
  afterAll(() => db.close());

  const q = async (sql: string, params: unknown[] = []) =>
    (await db.pool.query(sql.replaceAll('{T}', db.table), params)).rows;

  /**
   * Runs `call` with its answer lost; once its claim committed, locks the claim so the void
   * waits; runs `meanwhile`; then lets the void through and resolves everything.
   */
  async function lostThen<T>(principal: number, call: () => Promise<T>, meanwhile: () => Promise<void>) {
    const before = (
      await q(`SELECT count(*)::int AS n FROM {T}_requests WHERE principal_id = $1`, [principal])
    )[0].n as number;
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
      await meanwhile();
    } finally {
      await locker.query('COMMIT');
      locker.release();
    }
    await resolveAll(ak);
    await lossy.release();
    return result;
  }

  it('a charge voided after its daily period rolled leaves the new period alone: the new day never overspends', async () => {
    clock.set('2026-03-15T23:59:00Z');
    const { key, id } = await direct.create({ accountId: 'roll', budgetCents: 100, budgetPeriod: 'day' });
    const first = await lostThen(
      id,
      () => ak.authorize(key, { costCents: 60 }),
      async () => {
        clock.set('2026-03-17T00:00:00Z');
        const second = await direct.authorize(key, { costCents: 90 });
        expect(second, JSON.stringify(second)).toMatchObject({ ok: true });
      },
    );
    expect(first).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    // Day 2 has 90 of its 100 acknowledged: a charge of 70 must be refused.
    const third = await direct.authorize(key, { costCents: 70 });
    const used = (await direct.getKey(id))!.budget.usedCents;
    const rows = await q(
      `SELECT kind, amount_micros::float8 AS m, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day FROM {T}_ledger WHERE principal_id = $1 AND kind NOT LIKE 'admin:%' ORDER BY id`,
      [id],
    );
    expect({ third: third.ok, used, ledger: rows.map((r) => `${r.day} ${r.kind} ${r.m}`) }).toEqual({
      third: false,
      used: 90,
      ledger: ['2026-03-15 charge 600000', '2026-03-17 charge 900000', '2026-03-15 void -600000'],
    });
  });

  it('a charge voided after an admin reset leaves the charges made since the reset alone: the cap holds', async () => {
    clock.set('2026-03-20T12:00:00Z');
    const { key, id } = await direct.create({ accountId: 'reset', budgetCents: 100 });
    await lostThen(
      id,
      () => ak.authorize(key, { costCents: 60 }),
      async () => {
        expect(await direct.resetBudget({ keyId: id })).toBe(true);
        expect(await direct.authorize(key, { costCents: 90 })).toMatchObject({ ok: true });
      },
    );
    const third = await direct.authorize(key, { costCents: 70 });
    const used = (await direct.getKey(id))!.budget.usedCents;
    expect({ third: third.ok, used }).toEqual({ third: false, used: 90 });
  });

  it("a charge voided after its key's reset still comes off the account ceiling", async () => {
    clock.set('2026-03-20T12:00:00Z');
    await direct.setAccountBudget('acct-reset', { budgetCents: 100 });
    const { key, id } = await direct.create({ accountId: 'acct-reset', budgetCents: null });
    const first = await lostThen(
      id,
      () => ak.authorize(key, { costCents: 60 }),
      async () => {
        expect(await direct.resetBudget({ keyId: id })).toBe(true);
      },
    );
    expect(first).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    const account = await direct.getAccount('acct-reset');
    const ledgerSum = (
      await q(
        `SELECT COALESCE(sum(amount_micros), 0)::float8 AS m FROM {T}_ledger WHERE account_id = 'acct-reset' AND kind IN ('charge','settle','void')`,
      )
    )[0].m;
    expect({ accountUsed: account!.usedCents, ledgerSum }).toEqual({ accountUsed: 0, ledgerSum: 0 });
  });

  it("a pooled child's charge voided after the child's reset still comes off the pool parent", async () => {
    clock.set('2026-03-20T12:00:00Z');
    const parent = await direct.create({ accountId: 'pool-reset', budgetCents: 100 });
    const child = await direct.create({
      accountId: 'pool-reset',
      budgetCents: null,
      poolParentId: parent.id,
    });
    await lostThen(
      child.id,
      () => ak.authorize(child.key, { costCents: 60 }),
      async () => {
        expect(await direct.resetBudget({ keyId: child.id })).toBe(true);
      },
    );
    expect((await direct.getKey(parent.id))!.budget.usedCents).toBe(0);
  });

  it('after voids across resets, the ledger still equals the counter of the key, its pool parent and its account', async () => {
    clock.set('2026-03-21T12:00:00Z');
    await direct.setAccountBudget('sums', { budgetCents: 500 });
    const parent = await direct.create({ accountId: 'sums', budgetCents: 100 });
    const child = await direct.create({ accountId: 'sums', budgetCents: null, poolParentId: parent.id });
    await lostThen(
      child.id,
      () => ak.authorize(child.key, { costCents: 60 }),
      async () => {
        expect(await direct.resetBudget({ keyId: parent.id })).toBe(true);
        expect(await direct.resetBudget({ accountId: 'sums' })).toBe(true);
        expect(await direct.authorize(child.key, { costCents: 20 })).toMatchObject({ ok: true });
      },
    );
    const all = { from: new Date('2026-01-01T00:00:00Z'), to: new Date('2026-12-31T00:00:00Z') };
    const counters = {
      child: (await direct.getKey(child.id))!.budget.usedCents,
      parent: (await direct.getKey(parent.id))!.budget.usedCents,
      account: (await direct.getAccount('sums'))!.usedCents,
    };
    expect(counters).toEqual({ child: 20, parent: 20, account: 20 });
    expect({
      child: (await direct.spend({ keyId: child.id }, all)).totalCents,
      parent: (await direct.spend({ keyId: parent.id }, all)).totalCents,
      account: (await direct.spend({ accountId: 'sums' }, all)).totalCents,
    }).toEqual(counters);
    // The void is replayed as the reversal of its charge: the child never held more than its 20.
    expect(replay(await q(EVENTS.replace('{L}', '{T}_ledger'), [child.id]), 100 * 10_000).used).toBe(200_000);
  });

  it('a voided settle whose room was taken meanwhile leaves its hold closed: the retry charges nothing, the cap holds', async () => {
    clock.set('2026-03-22T12:00:00Z');
    const { key, id } = await direct.create({ accountId: 'no-room', budgetCents: 100 });
    const held = await direct.reserve(key, { maxCents: 30 });
    if (!held.ok) throw new Error('reserve');
    const first = await lostThen(
      id,
      () => ak.settle(held.hold!.id, { costCents: 7 }),
      async () => {
        expect(await direct.authorize(key, { costCents: 90 })).toMatchObject({ ok: true });
      },
    );
    expect(first).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    const retry = await direct.settle(held.hold!.id, { costCents: 7 });
    expect({
      retry: retry.ok ? 'ok' : retry.error.code,
      used: (await direct.getKey(id))!.budget.usedCents,
    }).toEqual({
      retry: 'hold_closed',
      used: 90,
    });
  });
});
