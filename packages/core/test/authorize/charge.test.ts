import { AgentKey } from '@agentkey/core';
import {
  BACKENDS,
  openStore,
  snapshotWindow,
  type TestDb,
  whileLockedElsewhere,
} from '@agentkey/test-support/db.js';
import { EVENTS, replay } from '@agentkey/test-support/ledger.js';
import { inParallel } from '@agentkey/test-support/parallel.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Batched charges (budget/charge.ts, sql/charges.ts). As in holds.test.ts, rows one statement
 * wrote share its transaction id (xmin), and the ledger is never updated.
 */
describe.each(BACKENDS)('batched charges (%s)', (backend) => {
  let db: TestDb;
  let ak: AgentKey;
  beforeAll(async () => {
    ({ db, ak } = await openStore(backend));
  });
  afterAll(() => db.close());
  const q = async (sql: string, params: unknown[] = []) =>
    (await db.pool.query(sql.replaceAll('{T}', db.table).replaceAll('{L}', `${db.table}_ledger`), params))
      .rows;
  const charges = async (where: string, params: unknown[]) =>
    (
      await q(
        `SELECT count(*)::int AS rows, count(DISTINCT xmin::text)::int AS statements,
          COALESCE(sum(amount_micros), 0)::float8 AS micros FROM {L} WHERE kind = 'charge' AND ${where}`,
        params,
      )
    )[0] as { rows: number; statements: number; micros: number };

  it('concurrent charges on one key share statements and stop exactly at the cap', async () => {
    const { key, id } = await ak.create({ accountId: 'hot', budgetCents: 100 });
    const results = await Promise.all(Array.from({ length: 150 }, () => ak.authorize(key, { costCents: 1 })));
    expect(results.filter((r) => r.ok)).toHaveLength(100);
    for (const r of results.filter((r) => !r.ok)) {
      expect(r).toMatchObject({ error: { code: 'budget_exceeded', cap: 'key' } });
    }
    const written = await charges('principal_id = $1', [id]);
    expect(written).toMatchObject({ rows: 100, micros: 100 * 10_000 });
    expect(written.statements).toBeLessThan(100);
    const [row] = await q(
      'SELECT budget_used_micros::float8 AS m, budget_used_cents AS c FROM {T} WHERE id = $1',
      [id],
    );
    expect(row).toEqual({ m: 100 * 10_000, c: 100 });
  });

  it("charges on many keys of one account stop exactly at the account's ceiling, each key charged its own", async () => {
    await ak.setAccountBudget('plan', { budgetCents: 50 });
    const keys = await Promise.all(
      Array.from({ length: 20 }, () => ak.create({ accountId: 'plan', budgetCents: 10 })),
    );
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => ak.authorize(keys[i % 20]!.key, { costCents: 0.5 })),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(100);
    for (const r of results.filter((r) => !r.ok)) {
      expect(r).toMatchObject({ error: { code: 'budget_exceeded', cap: 'account' } });
    }
    for (const r of results.filter((r) => r.ok)) {
      expect(r).toMatchObject({ account: { limitCents: 50 } });
    }
    const [acct] = await q(
      `SELECT budget_used_micros::float8 AS m FROM {T}_accounts WHERE account_id = 'plan'`,
    );
    expect(acct.m).toBe(50 * 10_000);
    const written = await charges(`account_id = 'plan'`, []);
    expect(written).toMatchObject({ rows: 100, micros: 50 * 10_000 });
    expect(written.statements).toBeLessThan(100);
    const perKey = await q(
      `SELECT k.budget_used_micros::float8 AS used, COALESCE(sum(l.amount_micros), 0)::float8 AS ledger
      FROM {T} k LEFT JOIN {L} l ON l.principal_id = k.id AND l.kind = 'charge'
      WHERE k.account_id = 'plan' GROUP BY k.id`,
    );
    for (const k of perKey) expect(k.used).toBe(k.ledger);
  });

  it('each call in a shared statement gets its own outcome', async () => {
    await ak.setAccountBudget('mixed-plan', { budgetCents: 100 });
    const capped = await ak.create({ accountId: 'mixed-plan', scopes: ['chat'] });
    const plain = await ak.create({ accountId: 'mixed', budgetCents: 100, scopes: ['chat'] });
    const revoked = await ak.create({ accountId: 'mixed', budgetCents: 100, scopes: ['chat'] });
    const narrow = await ak.create({ accountId: 'mixed', budgetCents: 100, scopes: ['search'] });
    const spent = await ak.create({ accountId: 'mixed', budgetCents: 1, scopes: ['chat'] });
    await ak.revoke(revoked.id);
    const [a, b, c, d, e] = await Promise.all(
      [capped, plain, revoked, narrow, spent].map((k) =>
        ak.authorize(k.key, { scope: 'chat', costCents: 1.5 }),
      ),
    );
    expect(a).toMatchObject({
      ok: true,
      budget: { usedCents: 1.5 },
      account: { limitCents: 100, usedCents: 1.5 },
    });
    expect(b).toMatchObject({ ok: true, budget: { usedCents: 1.5, limitCents: 100 } });
    expect(b!.ok && b!.account).toBeUndefined();
    expect(c).toMatchObject({ ok: false, error: { code: 'invalid_token', reason: 'revoked' } });
    expect(d).toMatchObject({ ok: false, error: { code: 'insufficient_scope', scope: 'chat' } });
    expect(e).toMatchObject({ ok: false, error: { code: 'budget_exceeded', cap: 'key' } });
  });

  it("trackUsage keeps 0.2.0's whole cents when batched", async () => {
    const { key, id } = await ak.create({ accountId: 'legacy', budgetCents: 20 });
    const results = await Promise.all(
      Array.from({ length: 30 }, () => ak.trackUsage(key, { costCents: 0.3 })),
    );
    expect(results.filter((r) => r.success)).toHaveLength(20);
    expect(results.filter((r) => !r.success)).toEqual(
      Array.from({ length: 10 }, () => ({ success: false, reason: 'budget_exceeded' })),
    );
    const [row] = await q('SELECT budget_used_cents AS c FROM {T} WHERE id = $1', [id]);
    expect(row.c).toBe(20);
  });
});

// Server only: several connections, and a row lock held by another session.
describe('batched charges under concurrency (server only)', () => {
  let db: TestDb;
  let ak: AgentKey;
  beforeAll(async () => {
    ({ db, ak } = await openStore('postgres'));
  });
  afterAll(() => db.close());
  const q = async (sql: string, params: unknown[] = []) =>
    (await db.pool.query(sql.replaceAll('{T}', db.table).replaceAll('{L}', `${db.table}_ledger`), params))
      .rows;

  it("an account locked by another session holds up only its own keys' charges", async () => {
    await ak.setAccountBudget('held', { budgetCents: 100 });
    const inHeld = await ak.create({ accountId: 'held' });
    const others = await Promise.all(
      Array.from({ length: 5 }, () => ak.create({ accountId: 'free', budgetCents: 100 })),
    );
    const { blocked, free } = await whileLockedElsewhere(
      db,
      `SELECT 1 FROM ${db.table}_accounts WHERE account_id = 'held' FOR UPDATE`,
      [],
      () => ak.authorize(inHeld.key, { costCents: 1 }),
      () => Promise.all(others.map((k) => ak.authorize(k.key, { costCents: 1 }))),
    );
    expect(free.every((r) => r.ok)).toBe(true);
    expect(blocked).toMatchObject({ ok: true, account: { usedCents: 1 } });
  });

  it("a ceiling cleared between a batch's snapshot and its row lock never charges a call twice", async () => {
    await ak.setAccountBudget('cleared', { budgetCents: 100 });
    const { key, id } = await ak.create({ accountId: 'cleared', budgetCents: 100 });
    expect(await ak.authorize(key, { costCents: 1 })).toMatchObject({ ok: true }); // the key is now flagged capped
    const window = await snapshotWindow(db, id);
    try {
      const other = new AgentKey({ pool: window.pool, tableName: db.table });
      // Two charges in one turn: one batch statement, parked after its snapshot, before its lock.
      const answers = Promise.all([
        other.authorize(key, { costCents: 1 }),
        other.authorize(key, { costCents: 1 }),
      ]);
      await window.parked();
      await ak.setAccountBudget('cleared', { budgetCents: null });
      await window.release();
      expect((await answers).map((r) => r.ok)).toEqual([true, true]);
    } finally {
      await window.close();
    }
    // Two acknowledged calls, two charges: none sent round again after it was taken.
    const [row] = await q('SELECT budget_used_micros::float8 AS m FROM {T} WHERE id = $1', [id]);
    expect(row.m).toBe(3 * 10_000);
    const [ledger] = await q(
      `SELECT count(*)::int AS n FROM {L} WHERE principal_id = $1 AND kind = 'charge'`,
      [id],
    );
    expect(ledger.n).toBe(3);
  });

  it('a steady stream of charges and holds over capped and plain keys never passes a key or the account cap', async () => {
    await ak.setAccountBudget('stream', { budgetCents: 150 });
    const capped = await Promise.all(
      Array.from({ length: 6 }, () => ak.create({ accountId: 'stream', budgetCents: 40 })),
    );
    const plain = await Promise.all(
      Array.from({ length: 3 }, () => ak.create({ accountId: 'other', budgetCents: 40 })),
    );
    const keys = [...capped, ...plain];
    const failures: string[] = [];
    const ops = Array.from({ length: 1200 }, (_, i) => async () => {
      const k = keys[i % keys.length]!;
      if (i % 4 === 3) {
        const held = await ak.authorize(k.key, { holdCents: 1 });
        if (held.ok) await ak.settle(held.hold!.id, { costCents: 0.5 });
        else if (held.error.code !== 'budget_exceeded') failures.push(held.error.code);
        return;
      }
      const r = await ak.authorize(k.key, { costCents: 0.35 });
      if (!r.ok && r.error.code !== 'budget_exceeded') failures.push(r.error.code);
    });
    await inParallel(ops, 48);
    expect(failures).toEqual([]);
    let accountUsed = 0;
    for (const k of keys) {
      const { used } = replay(await q(EVENTS, [k.id]), 40 * 10_000);
      const [row] = await q('SELECT budget_used_micros::float8 AS m FROM {T} WHERE id = $1', [k.id]);
      expect(row.m).toBe(used);
      if (capped.includes(k)) accountUsed += used;
    }
    const [acct] = await q(
      `SELECT budget_used_micros::float8 AS m FROM {T}_accounts WHERE account_id = 'stream'`,
    );
    expect(acct.m).toBe(accountUsed);
    expect(acct.m).toBeLessThanOrEqual(150 * 10_000);
    expect(acct.m).toBeGreaterThan(150 * 10_000 * 0.9);
  }, 120_000);
});
