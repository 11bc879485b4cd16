import { AgentKey, AgentKeyInputError, AgentKeyTimeoutError } from '@agentkey/core';
import { BACKENDS, openStore, type TestDb } from '@agentkey/test-support/db.js';
import { lossyPool, resolveAll } from '@agentkey/test-support/lossy-pool.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableNames } from '../../src/sql/identifier.js';
import { pruneRequestsSql } from '../../src/sql/requests.js';

/**
 * Guarantee 6: a call answered `unavailable` never leaves a charge or a hold counting. Its
 * request id is claimed by the statement that charges (sql/requests.ts); the resolver voids what
 * committed and tombstones what did not, so it never can. Answers are lost here on purpose
 * (lossy-pool.ts); test/faults/ does the same with a real server stopped, killed and frozen.
 */
/** Every lost answer waits this long: short, yet far above a normal call on a busy machine. */
const TIMEOUT_MS = 500;

describe.each(BACKENDS)('calls answered unavailable (%s)', (backend) => {
  let db: TestDb;
  let lossy: ReturnType<typeof lossyPool>;
  let ak: AgentKey;
  let counters: AgentKey;
  beforeAll(async () => {
    ({ db, ak: counters } = await openStore(backend));
    lossy = lossyPool(db.pool);
    // A deadline: every lost answer here would otherwise hang the call forever.
    ak = new AgentKey({ pool: lossy.pool, tableName: db.table, timeoutMs: TIMEOUT_MS });
  });
  afterAll(() => db.close());

  const q = async (sql: string, params: unknown[] = []) =>
    (await db.pool.query(sql.replaceAll('{T}', db.table), params)).rows;
  const usedCents = async (id: number) => (await counters.getKey(id))!.budget.usedCents;
  const ledger = async (id: number) =>
    (
      await q(
        `SELECT kind, amount_micros::float8 AS m FROM {T}_ledger WHERE principal_id = $1 AND kind NOT LIKE 'admin:%' ORDER BY id`,
        [id],
      )
    ).map((r) => `${r.kind} ${r.m}`);
  /** Runs `call` with its answer lost (or its statement late), then lets everything through. */
  const lost = async <T>(mode: 'lose-answer' | 'send-late', call: () => Promise<T>) => {
    lossy.set(mode);
    const answer = await call();
    if (mode === 'send-late') await resolveAll(ak);
    const late = await lossy.release();
    await resolveAll(ak);
    return { answer, late };
  };

  it('a charge whose answer was lost is answered unavailable, then voided: counter and spend back to zero', async () => {
    const { key, id } = await counters.create({ accountId: 'lost', budgetCents: 100 });
    const { answer } = await lost('lose-answer', () => ak.authorize(key, { costCents: 2 }));
    expect(answer).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    expect(await usedCents(id)).toBe(0);
    expect(await ledger(id)).toEqual(['charge 20000', 'void -20000']);
    const spend = await counters.spend(
      { keyId: id },
      { from: new Date(0), to: new Date(Date.now() + 60_000) },
    );
    expect(spend.totalCents).toBe(0);
  });

  it('a charge that reaches the server after its caller was answered never commits', async () => {
    const { key, id } = await counters.create({ accountId: 'late', budgetCents: 100 });
    const { answer, late } = await lost('send-late', () => ak.authorize(key, { costCents: 2 }));
    expect(answer).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    // The late statement met its tombstone and rolled back whole.
    expect(late.map((s) => s.status)).toEqual(['rejected']);
    expect(await usedCents(id)).toBe(0);
    expect(await ledger(id)).toEqual([]);
  });

  it('a call whose connection dropped is tried once more inside its deadline; a retry of one that committed never charges twice', async () => {
    const { key, id } = await counters.create({ accountId: 'retry', budgetCents: 100 });
    lossy.set('drop-once');
    expect(await ak.authorize(key, { costCents: 2 })).toMatchObject({ ok: true, chargedCents: 2 });
    // The first attempt committed and lost its answer: the retry (same request id) meets its
    // claim and fails, the caller is answered unavailable, and the resolver voids the charge.
    lossy.set('commit-then-drop');
    expect(await ak.authorize(key, { costCents: 3 })).toMatchObject({
      ok: false,
      error: { code: 'unavailable' },
    });
    await resolveAll(ak);
    expect(await usedCents(id)).toBe(2);
    expect(await ledger(id)).toEqual(['charge 20000', 'charge 30000', 'void -30000']);
  });

  it('a retry refused because its own first attempt used the budget up leaves nothing charged', async () => {
    const { key, id } = await counters.create({ accountId: 'retry-refused', budgetCents: 3 });
    lossy.set('commit-then-drop');
    expect(await ak.authorize(key, { costCents: 3 })).toMatchObject({
      ok: false,
      error: { code: 'budget_exceeded' },
    });
    await resolveAll(ak);
    expect(await usedCents(id)).toBe(0);
    expect(await ledger(id)).toEqual(['charge 30000', 'void -30000']);
  });

  it('a hold whose answer was lost stops counting; a lost settle is refunded and its hold reopened for the retry', async () => {
    const { key, id } = await counters.create({ accountId: 'holds', budgetCents: 100 });
    const { answer } = await lost('lose-answer', () => ak.reserve(key, { maxCents: 30 }));
    expect(answer.ok).toBe(false);
    const [open] = await q(
      `SELECT held_micros::float8 AS held, (SELECT count(*)::int FROM {T}_holds WHERE principal_id = $1 AND state = 'open') AS n
       FROM {T} WHERE id = $1`,
      [id],
    );
    expect(open).toEqual({ held: 0, n: 0 });
    const held = await ak.reserve(key, { maxCents: 30 });
    expect(held.ok).toBe(true);
    const settled = await lost('lose-answer', () =>
      ak.settle(held.ok ? held.hold!.id : '0', { costCents: 7 }),
    );
    expect(settled.answer).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    expect(await usedCents(id)).toBe(0);
    // The void reopened the hold (it still fits): the retry is charged as the first call would be.
    expect(await ak.settle(held.ok ? held.hold!.id : '0', { costCents: 7 })).toMatchObject({
      ok: true,
      chargedCents: 7,
    });
    expect(await usedCents(id)).toBe(7);
    expect(await ledger(id)).toEqual([
      'hold 300000',
      'void 0',
      'hold 300000',
      'settle 70000',
      'void -70000',
      'hold 300000',
      'settle 70000',
    ]);
  });

  it('with an idempotency key: a void gives the key back, and a retry before the void takes the charge over', async () => {
    const { key, id } = await counters.create({ accountId: 'keyed', budgetCents: 100 });
    const first = await lost('lose-answer', () => ak.authorize(key, { costCents: 3, idempotencyKey: 'k1' }));
    expect(first.answer.ok).toBe(false);
    expect(await usedCents(id)).toBe(0);
    // Voided: the key is free again, and the retry is charged as a first call.
    expect(await ak.authorize(key, { costCents: 3, idempotencyKey: 'k1' })).toMatchObject({
      ok: true,
      chargedCents: 3,
    });
    // Answer lost, retried (and answered) before the resolver ran: the retry owns the charge.
    lossy.set('lose-answer');
    expect((await ak.authorize(key, { costCents: 3, idempotencyKey: 'k2' })).ok).toBe(false);
    await lossy.release();
    const retry = await ak.authorize(key, { costCents: 3, idempotencyKey: 'k2' });
    expect(retry).toMatchObject({ ok: true, replayed: true });
    await resolveAll(ak);
    expect(await usedCents(id)).toBe(6);
    expect(await ledger(id)).toEqual(['charge 30000', 'void -30000', 'charge 30000', 'charge 30000']);
  });

  it('batched charges whose answers were lost are all voided, and counters keep no charge for them', async () => {
    const { key, id } = await counters.create({ accountId: 'batch', budgetCents: 1000 });
    const { answer } = await lost('lose-answer', () =>
      Promise.all(Array.from({ length: 30 }, () => ak.authorize(key, { costCents: 1 }))),
    );
    expect(answer.every((r) => !r.ok && r.error.code === 'unavailable')).toBe(true);
    expect(await usedCents(id)).toBe(0);
    const kinds = await ledger(id);
    expect(kinds.filter((k) => k === 'charge 10000')).toHaveLength(30);
    expect(kinds.filter((k) => k === 'void -10000')).toHaveLength(30);
  });

  it('with the ledger off the rule holds on the counters alone', async () => {
    const quiet = new AgentKey({
      pool: lossy.pool,
      tableName: db.table,
      timeoutMs: TIMEOUT_MS,
      ledger: false,
    });
    const { key, id } = await counters.create({ accountId: 'quiet', budgetCents: 100 });
    lossy.set('lose-answer');
    expect((await quiet.authorize(key, { costCents: 4 })).ok).toBe(false);
    expect((await quiet.reserve(key, { maxCents: 9 })).ok).toBe(false);
    await lossy.release();
    await resolveAll(quiet);
    expect(await usedCents(id)).toBe(0);
    expect(await q('SELECT held_micros::float8 AS h FROM {T} WHERE id = $1', [id])).toEqual([{ h: 0 }]);
    expect(await ledger(id)).toEqual([]);
  });

  it('the 0.2.0 calls reject past the deadline, and trackUsage leaves nothing charged', async () => {
    const { key, id } = await counters.create({ accountId: 'legacy', budgetCents: 100 });
    lossy.set('send-late');
    await expect(ak.validate(key)).rejects.toBeInstanceOf(AgentKeyTimeoutError);
    await expect(ak.trackUsage(key, { costCents: 5 })).rejects.toBeInstanceOf(AgentKeyTimeoutError);
    await resolveAll(ak);
    await lossy.release();
    expect(await usedCents(id)).toBe(0);
  });

  it('claims and tombstones are pruned after a day, not before', async () => {
    const prune = (at: Date, inDoubt: string[] = []) =>
      q(pruneRequestsSql(tableNames(db.table)), [at.toISOString(), inDoubt]);
    const [{ n: kept }] = await q('SELECT count(*)::int AS n FROM {T}_requests');
    expect(kept).toBeGreaterThan(1);
    expect(await prune(new Date())).toEqual([{ n: 0 }]);
    // An id the resolver still holds keeps its claim, however old: its void must still find it.
    const [{ request_id: held }] = await q('SELECT request_id FROM {T}_requests LIMIT 1');
    const later = new Date(Date.now() + 2 * 86_400_000);
    expect(await prune(later, [held])).toEqual([{ n: kept - 1 }]);
    expect(await prune(later)).toEqual([{ n: 1 }]);
  });

  it('timeoutMs is checked at construction', () => {
    for (const timeoutMs of [0, 49, 60_001, 1.5, Number.NaN, '3000']) {
      expect(() => new AgentKey({ pool: db.pool, timeoutMs: timeoutMs as number })).toThrow(
        expect.objectContaining({ name: AgentKeyInputError.name, field: 'timeoutMs' }),
      );
    }
  });
});
