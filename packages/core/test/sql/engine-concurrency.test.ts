import type { AgentKey } from '@agentkey/core';
import { type TestDb, twoProcesses } from '@agentkey/test-support/db.js';
import { replay } from '@agentkey/test-support/ledger.js';
import { inParallel } from '@agentkey/test-support/parallel.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Server only: these races need several connections, which PGlite does not have.
describe('budget engine under concurrency (server only)', () => {
  let db: TestDb;
  let a: AgentKey;
  let b: AgentKey;
  beforeAll(async () => {
    ({ db, a, b } = await twoProcesses());
  });
  afterAll(() => db.close());
  const q = async (sql: string, params: unknown[] = []) =>
    (await db.pool.query(sql.replaceAll('{T}', db.table).replaceAll('{L}', `${db.table}_ledger`), params))
      .rows;

  it('500 mixed operations with repeated idempotency keys never pass either cap; counters equal the ledger', async () => {
    await a.setAccountBudget('mix', { budgetCents: 120 });
    const { key, id } = await a.create({ accountId: 'mix', budgetCents: 150 });
    const ops = Array.from({ length: 500 }, (_, i) => async () => {
      const ak = i % 2 === 0 ? a : b;
      switch (i % 5) {
        case 0:
        case 1:
          return ak.authorize(key, { costCents: 0.75, idempotencyKey: `charge-${i % 120}` });
        case 2:
          return ak.trackUsage(key, { costCents: 1, idempotencyKey: `track-${i % 40}` });
        case 3: {
          const held = await ak.reserve(key, { maxCents: 2, idempotencyKey: `hold-${i % 60}` });
          if (held.ok && held.hold)
            await ak.settle(held.hold.id, { costCents: 1.5, idempotencyKey: `settle-${held.hold.id}` });
          return held;
        }
        default: {
          const held = await ak.authorize(key, { holdCents: 1 });
          if (held.ok && held.hold) await ak.release(held.hold.id);
          return held;
        }
      }
    });
    await Promise.all(ops.map((op) => op()));

    // Replay the ledger in commit order: used + open holds never exceeded min(key cap, account cap).
    const events = await q(
      `SELECT kind, amount_micros::float8 AS m, hold_id::text AS h FROM {L}
      WHERE principal_id = $1 AND kind IN ('charge', 'hold', 'settle', 'release', 'expire') ORDER BY id`,
      [id],
    );
    const cap = 120 * 10_000;
    const { used, peak } = replay(events, cap);
    expect(peak).toBeGreaterThan(cap * 0.9); // the budget really was contended to the end

    const [row] = await q(
      'SELECT budget_used_micros::float8 AS m, held_micros::int AS held FROM {T} WHERE id = $1',
      [id],
    );
    expect(row.m).toBe(used);
    expect(row.held).toBe(0);
    const [acct] = await q(
      `SELECT budget_used_micros::float8 AS m FROM {T}_accounts WHERE account_id = 'mix'`,
    );
    expect(acct.m).toBe(used);

    // Each idempotency key charged at most once.
    const dupes = await q(
      `SELECT idempotency_key, kind, count(*)::int AS n FROM {L} WHERE principal_id = $1
      AND idempotency_key IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1`,
      [id],
    );
    expect(dupes).toEqual([]);
  }, 120_000);

  it('lean account-ceiling charges racing holds on other keys of the account never pass the ceiling', async () => {
    await a.setAccountBudget('blend', { budgetCents: 200 });
    const keys = await Promise.all(Array.from({ length: 8 }, () => a.create({ accountId: 'blend' })));
    // Warm every key's descriptor so plain charges take the one-statement key-and-account path.
    await Promise.all(keys.map((k) => a.authorize(k.key, { costCents: 0.5 })));
    await Promise.all(keys.map((k) => b.authorize(k.key, { costCents: 0.5 })));
    const ops = Array.from({ length: 400 }, (_, i) => async () => {
      const ak = i % 2 ? a : b;
      const k = keys[i % 8]!;
      if (i % 8 < 5) return ak.authorize(k.key, { costCents: 1.25 });
      const held = await ak.reserve(k.key, { maxCents: 3 });
      if (held.ok && held.hold) {
        if (i % 3 === 0) await ak.release(held.hold.id);
        else await ak.settle(held.hold.id, { costCents: 2 });
      }
      return held;
    });
    await Promise.all(ops.map((op) => op()));
    const events = await q(`SELECT kind, amount_micros::float8 AS m, hold_id::text AS h FROM {L}
      WHERE account_id = 'blend' AND kind IN ('charge', 'hold', 'settle', 'release', 'expire') ORDER BY id`);
    const cap = 200 * 10_000;
    const { used, peak } = replay(events, cap);
    // The ceiling really was contended. How much of it ends up spent depends on the race: holds
    // that took the room first and were then released leave it unspent, with every charge refused.
    expect(peak).toBeGreaterThan(cap * 0.9);
    // Once everything is closed nothing stale is counted: the account takes charges up to its
    // ceiling, to the last 1.25 cents.
    let spent = used;
    while ((await a.authorize(keys[0]!.key, { costCents: 1.25 })).ok) spent += 12_500;
    expect(spent).toBeGreaterThan(cap - 12_500);
    expect(spent).toBeLessThanOrEqual(cap);
    const [acct] =
      await q(`SELECT budget_used_micros::float8 AS m, held_micros::float8 AS held FROM {T}_accounts
      WHERE account_id = 'blend'`);
    expect(acct.m).toBe(spent);
    const [sum] = await q(`SELECT sum(budget_used_micros)::float8 AS m FROM {T} WHERE account_id = 'blend'`);
    expect(sum.m).toBe(spent);
  }, 120_000);

  it('lean holds, settles, releases and charges racing on one key never pass its cap', async () => {
    const { key, id } = await a.create({ accountId: 'lean', budgetCents: 150 });
    const ops = Array.from({ length: 400 }, (_, i) => async () => {
      const ak = i % 2 ? a : b;
      if (i % 4 === 0) return ak.authorize(key, { costCents: 1.1 });
      const held = await ak.authorize(key, { holdCents: 2.5 });
      if (held.ok && held.hold) {
        // Within the hold (one statement), above it (the engine, with a shortfall), or a release.
        if (i % 4 === 1) await ak.settle(held.hold.id, { costCents: 1.7 });
        else if (i % 4 === 2) await ak.settle(held.hold.id, { costCents: 3 });
        else await ak.release(held.hold.id);
      }
      return held;
    });
    // A steady stream of 32 callers: budget freed by a settle or release is taken by later calls,
    // so the cap is contended to the end (one burst of 400 would be judged before any settle).
    await inParallel(ops, 32);
    const events = await q(
      `SELECT kind, amount_micros::float8 AS m, hold_id::text AS h FROM {L}
      WHERE principal_id = $1 AND kind IN ('charge', 'hold', 'settle', 'release', 'expire') ORDER BY id`,
      [id],
    );
    const cap = 150 * 10_000;
    const { used } = replay(events, cap);
    expect(used).toBeGreaterThan(cap * 0.9);
    const [row] = await q(
      'SELECT budget_used_micros::float8 AS m, held_micros::float8 AS held FROM {T} WHERE id = $1',
      [id],
    );
    expect(row).toEqual({ m: used, held: 0 });
  }, 120_000);

  it('the same idempotency key from two processes at the same instant charges once', async () => {
    const { key, id } = await a.create({ accountId: 'idem', budgetCents: 1000 });
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? a : b).authorize(key, { costCents: 5, idempotencyKey: 'same' }),
      ),
    );
    expect(results.every((r) => r.ok)).toBe(true);
    expect(results.filter((r) => r.ok && !r.replayed)).toHaveLength(1);
    const [row] = await q('SELECT budget_used_cents AS c FROM {T} WHERE id = $1', [id]);
    expect(row.c).toBe(5);
  });

  it('50 keys of one account charged in parallel never pass the account cap', async () => {
    await a.setAccountBudget('fifty', { budgetCents: 100, budgetPeriod: 'day' });
    const keys = await Promise.all(
      Array.from({ length: 50 }, () => a.create({ accountId: 'fifty', budgetCents: 10 })),
    );
    const results = await Promise.all(
      Array.from({ length: 400 }, (_, i) => (i % 2 ? a : b).authorize(keys[i % 50]!.key, { costCents: 1 })),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(100);
    const refusals = results.filter((r) => !r.ok);
    expect(
      refusals.every((r) => !r.ok && r.error.code === 'budget_exceeded' && r.error.cap === 'account'),
    ).toBe(true);
    const [acct] = await q(`SELECT budget_used_cents AS c FROM {T}_accounts WHERE account_id = 'fifty'`);
    expect(acct.c).toBe(100);
    const [sum] = await q(`SELECT sum(budget_used_cents)::int AS c FROM {T} WHERE account_id = 'fifty'`);
    expect(sum.c).toBe(100);
  });

  it('a parent and five pooled children never pass the parent cap together', async () => {
    const parent = await a.create({ accountId: 'fam', budgetCents: 60 });
    const children = await Promise.all(
      Array.from({ length: 5 }, () =>
        a.create({ accountId: 'fam', poolParentId: parent.id, budgetCents: 60 }),
      ),
    );
    const all = [parent, ...children];
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, i) => (i % 2 ? a : b).authorize(all[i % 6]!.key, { costCents: 1 })),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(60);
    const [row] = await q('SELECT budget_used_cents AS c FROM {T} WHERE id = $1', [parent.id]);
    expect(row.c).toBe(60);
  });

  it('setting a ceiling while charges race never lets one slip past it', async () => {
    const keys = await Promise.all(Array.from({ length: 10 }, () => a.create({ accountId: 'racing' })));
    const charges = Array.from({ length: 300 }, (_, i) =>
      (i % 2 ? a : b).authorize(keys[i % 10]!.key, { costCents: 1 }),
    );
    await new Promise((r) => setTimeout(r, 5));
    await a.setAccountBudget('racing', { budgetCents: 50 });
    await Promise.all(charges);
    const [during] = await q(`SELECT budget_used_cents AS c FROM {T}_accounts WHERE account_id = 'racing'`);
    expect(during.c).toBeLessThanOrEqual(50);
    // 100 more charges fill the ceiling exactly: nothing that landed after it was set escaped it.
    const after = await Promise.all(
      Array.from({ length: 100 }, (_, i) => b.authorize(keys[i % 10]!.key, { costCents: 1 })),
    );
    const [acct] = await q(`SELECT budget_used_cents AS c FROM {T}_accounts WHERE account_id = 'racing'`);
    expect(acct.c).toBe(50);
    expect(after.filter((r) => r.ok)).toHaveLength(50 - during.c);
  });
});
