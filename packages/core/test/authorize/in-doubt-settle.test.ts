import { AgentKey, AgentKeyTimeoutError } from '@agentkey/core';
import { openStore, type TestDb } from '@agentkey/test-support/db.js';
import { lossyPool, resolveAll } from '@agentkey/test-support/lossy-pool.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** Settles, replays and the retry-once path (lossy-pool.ts loses answers). */
const TIMEOUT_MS = 500;

describe('settles, replays and retries answered unavailable', () => {
  let db: TestDb;
  let lossy: ReturnType<typeof lossyPool>;
  let ak: AgentKey;
  let direct: AgentKey;
  beforeAll(async () => {
    ({ db, ak: direct } = await openStore('postgres'));
    lossy = lossyPool(db.pool);
    ak = new AgentKey({ pool: lossy.pool, tableName: db.table, timeoutMs: TIMEOUT_MS });
  });
  afterAll(() => db.close());

  const q = async (sql: string, params: unknown[] = []) =>
    (await db.pool.query(sql.replaceAll('{T}', db.table), params)).rows;
  const usedCents = async (id: number) => (await direct.getKey(id))!.budget.usedCents;
  const ledger = async (id: number) =>
    (
      await q(
        `SELECT kind, amount_micros::float8 AS m FROM {T}_ledger WHERE principal_id = $1 AND kind NOT LIKE 'admin:%' ORDER BY id`,
        [id],
      )
    ).map((r) => `${r.kind} ${r.m}`);

  it('README: "with your idempotency key, retry after unavailable ... charged once" — a settle retried with its key after the void', async () => {
    const { key, id } = await direct.create({ accountId: 'settle-idem', budgetCents: 100 });
    const held = await direct.reserve(key, { maxCents: 30 });
    if (!held.ok) throw new Error('reserve');
    lossy.set('lose-answer');
    const first = await ak.settle(held.hold!.id, { costCents: 7, idempotencyKey: 'S1' });
    expect(first).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    await lossy.release();
    await resolveAll(ak);
    const retry = await ak.settle(held.hold!.id, { costCents: 7, idempotencyKey: 'S1' });
    const used = await usedCents(id);
    // Charged once: the retry is charged as a first call.
    expect({ retry: retry.ok ? 'ok' : retry.error.code, used, ledger: await ledger(id) }).toEqual({
      retry: 'ok',
      used: 7,
      ledger: expect.anything(),
    });
  });

  it('a settle that committed and lost its connection: the retry-once path answers its committed outcome', async () => {
    const { key, id } = await direct.create({ accountId: 'settle-drop', budgetCents: 100 });
    const held = await direct.reserve(key, { maxCents: 30 });
    if (!held.ok) throw new Error('reserve');
    lossy.set('commit-then-drop');
    const first = await ak.settle(held.hold!.id, { costCents: 7 });
    await resolveAll(ak);
    const used = await usedCents(id);
    // Either the settle is charged (ok, 7) or the caller is told unavailable; never "closed" and free.
    expect({ answer: first.ok ? 'ok' : first.error.code, used, ledger: await ledger(id) }).toEqual({
      answer: 'ok',
      used: 7,
      ledger: expect.anything(),
    });
  });

  it('a lost idempotent reserve replayed, its hold settled: the void of the first call leaves the settle charged', async () => {
    const { key, id } = await direct.create({ accountId: 'reserve-chain', budgetCents: 100 });
    lossy.set('lose-answer');
    const first = await ak.reserve(key, { maxCents: 30, idempotencyKey: 'R1' });
    expect(first.ok).toBe(false);
    lossy.set('pass');
    const replay = await direct.reserve(key, { maxCents: 30, idempotencyKey: 'R1' });
    if (!replay.ok) throw new Error(JSON.stringify(replay));
    expect(await direct.settle(replay.hold!.id, { costCents: 7 })).toMatchObject({ ok: true });
    await lossy.release();
    await resolveAll(ak);
    expect(await usedCents(id)).toBe(7);
  });

  it('trackUsage that timed out rejects with AgentKeyTimeoutError and is voided', async () => {
    const { key, id } = await direct.create({ accountId: 'track', budgetCents: 100 });
    lossy.set('lose-answer');
    await expect(ak.trackUsage(key, { costCents: 5 })).rejects.toBeInstanceOf(AgentKeyTimeoutError);
    await lossy.release();
    await resolveAll(ak);
    expect(await usedCents(id)).toBe(0);
  });
});

describe('trackUsage on the retry-once path', () => {
  let db: TestDb;
  let lossy: ReturnType<typeof lossyPool>;
  let ak: AgentKey;
  let direct: AgentKey;
  beforeAll(async () => {
    ({ db, ak: direct } = await openStore('postgres'));
    lossy = lossyPool(db.pool);
    ak = new AgentKey({ pool: lossy.pool, tableName: db.table, timeoutMs: TIMEOUT_MS });
  });
  afterAll(() => db.close());

  it('a trackUsage whose first attempt committed and lost its connection rejects as a timeout, not a raw claim conflict', async () => {
    const { key, id } = await direct.create({ accountId: 'track-drop', budgetCents: 100 });
    lossy.set('commit-then-drop');
    const outcome = await ak.trackUsage(key, { costCents: 5 }).then(
      (r) => ({ resolved: r }),
      (e: unknown) => ({ rejected: String((e as Error)?.message), name: (e as Error)?.name }),
    );
    await resolveAll(ak);
    const used = (await direct.getKey(id))!.budget.usedCents;
    expect({ outcome, used }).toEqual({
      outcome: expect.not.objectContaining({ rejected: expect.stringMatching(/duplicate key|_requests/) }),
      used: expect.any(Number),
    });
  });
});
