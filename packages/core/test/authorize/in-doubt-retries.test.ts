import { AgentKey } from '@agentkey/core';
import { manualClock, type TestDb } from '@agentkey/test-support/db.js';
import { openLostAnswerStore, type voidLater } from '@agentkey/test-support/in-doubt.js';
import { lossyPool, resolveAll } from '@agentkey/test-support/lossy-pool.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const all = { from: new Date('2020-01-01T00:00:00Z'), to: new Date('2030-01-01T00:00:00Z') };

/**
 * Settles and replays whose answer was lost, retried or replayed before or after the void: an ok
 * answer always leaves exactly one charge, and no cap is passed.
 */
describe('in-doubt settles, replays and the retry-once path', () => {
  let db: TestDb;
  let ak: AgentKey;
  let direct: AgentKey;
  let h: ReturnType<typeof voidLater>;
  const clock = manualClock(new Date('2026-06-01T12:00:00Z'));
  beforeAll(async () => {
    ({ db, direct, ak, h } = await openLostAnswerStore(clock));
  });
  afterAll(() => db.close());

  it("account ceiling: a voided settle reopens its hold only if it fits with another key's reserve", async () => {
    await direct.setAccountBudget('acct-reopen', { budgetCents: 100 });
    const a = await direct.create({ accountId: 'acct-reopen', budgetCents: null });
    const b = await direct.create({ accountId: 'acct-reopen', budgetCents: null });
    const held = await direct.reserve(a.key, { maxCents: 30, ttl: '5m' });
    if (!held.ok) throw new Error('reserve');
    await h.lostThen(
      a.id,
      () => ak.settle(held.hold!.id, { costCents: 7 }),
      async () => {
        expect(await direct.reserve(b.key, { maxCents: 93, ttl: '5m' })).toMatchObject({ ok: true });
      },
    );
    const acct = (await direct.getAccount('acct-reopen'))!;
    expect(acct.usedCents + acct.heldCents).toBeLessThanOrEqual(100);
    const retry = await direct.settle(held.hold!.id, { costCents: 7 });
    const acct2 = (await direct.getAccount('acct-reopen'))!;
    expect({ retry: retry.ok, sum: acct2.usedCents + acct2.heldCents <= 100 }).toEqual({
      retry: false,
      sum: true,
    });
  });

  it('idempotent replay after a void charges once', async () => {
    const { key, id } = await direct.create({ accountId: 'idem', budgetCents: 100 });
    const first = await h.lostThen(
      id,
      () => ak.authorize(key, { costCents: 60, idempotencyKey: 'K1' }),
      async () => {},
    );
    expect(first).toMatchObject({ ok: false });
    expect(await direct.authorize(key, { costCents: 60, idempotencyKey: 'K1' })).toMatchObject({ ok: true });
    expect(await direct.authorize(key, { costCents: 60, idempotencyKey: 'K1' })).toMatchObject({ ok: true });
    const used = (await direct.getKey(id))!.budget.usedCents;
    const ledger = (await direct.spend({ keyId: id }, all)).totalCents;
    expect({ used, ledger }).toEqual({ used: 60, ledger: 60 });
  });

  it('retry-once: a settle whose first attempt committed then dropped is charged once', async () => {
    const lp = lossyPool(db.pool);
    const ak2 = new AgentKey({ pool: lp.pool, tableName: db.table, timeoutMs: 2000, now: clock.now });
    for (const [label, mk] of [
      ['lean', { accountId: 'ro-lean', budgetCents: 100 }],
      ['capped', { accountId: 'ro-capped', budgetCents: 100 }],
    ] as const) {
      if (label === 'capped') await direct.setAccountBudget('ro-capped', { budgetCents: 100 });
      const { key, id } = await direct.create(mk);
      const held = await direct.reserve(key, { maxCents: 30, ttl: '5m' });
      if (!held.ok) throw new Error('reserve');
      lp.set('commit-then-drop');
      const r = await ak2.settle(held.hold!.id, { costCents: 7 });
      await resolveAll(ak2);
      const k = (await direct.getKey(id))!.budget;
      const retry = await direct.settle(held.hold!.id, { costCents: 7 });
      const k2 = (await direct.getKey(id))!.budget;
      const ledger = (await direct.spend({ keyId: id }, all)).totalCents;
      expect({
        label,
        r: r.ok ? 'ok' : r.error.code,
        used: k.usedCents,
        held: k.heldCents,
        retry: retry.ok ? 'ok' : retry.error.code,
        used2: k2.usedCents,
        ledger,
      }).toEqual({
        label,
        r: 'ok',
        used: 7,
        held: 0,
        retry: expect.anything(),
        used2: 7,
        ledger: 7,
      });
    }
  });

  it('retry-once: an authorize with idempotency key committed then dropped', async () => {
    const lp = lossyPool(db.pool);
    const ak2 = new AgentKey({ pool: lp.pool, tableName: db.table, timeoutMs: 2000, now: clock.now });
    const { key, id } = await direct.create({ accountId: 'ro-idem', budgetCents: 100 });
    lp.set('commit-then-drop');
    const r = await ak2.authorize(key, { costCents: 60, idempotencyKey: 'R1' });
    await resolveAll(ak2);
    const used = (await direct.getKey(id))!.budget.usedCents;
    const again = await direct.authorize(key, { costCents: 60, idempotencyKey: 'R1' });
    const used2 = (await direct.getKey(id))!.budget.usedCents;
    expect({ r: r.ok ? 'ok' : r.error.code, used, again: again.ok, used2 }).toEqual(
      r.ok
        ? { r: 'ok', used: 60, again: true, used2: 60 }
        : { r: 'unavailable', used: 0, again: true, used2: 60 },
    );
  });
  for (const capped of [false, true]) {
    it(`a settle retried (no idempotency key) before the void of the lost first settle, capped=${capped}`, async () => {
      const acct = `retry-before-void-${capped}`;
      if (capped) await direct.setAccountBudget(acct, { budgetCents: 100 });
      const { key, id } = await direct.create({ accountId: acct, budgetCents: 100 });
      const held = await direct.reserve(key, { maxCents: 30, ttl: '5m' });
      if (!held.ok) throw new Error('reserve');
      let retry: Awaited<ReturnType<AgentKey['settle']>> | undefined;
      const first = await h.lostThen(
        id,
        () => ak.settle(held.hold!.id, { costCents: 7 }),
        async () => {
          retry = await direct.settle(held.hold!.id, { costCents: 7 });
        },
      );
      const b = (await direct.getKey(id))!.budget;
      const ledger = (await direct.spend({ keyId: id }, all)).totalCents;
      const again = await direct.settle(held.hold!.id, { costCents: 7 });
      const b2 = (await direct.getKey(id))!.budget;
      expect(ledger).toBe(b.usedCents);
      // Whatever the answers, an ok answer must leave exactly one 7 charged.
      const oks = [first, retry, again].filter((r) => r?.ok).length;
      expect({ used: b2.usedCents, held: b2.heldCents }).toEqual({ used: oks > 0 ? 7 : 0, held: 0 });
    });
  }
  it('a settle with an idempotency key replayed before the void of the lost first settle stands once', async () => {
    const { key, id } = await direct.create({ accountId: 'idem-settle', budgetCents: 100 });
    const held = await direct.reserve(key, { maxCents: 30, ttl: '5m' });
    if (!held.ok) throw new Error('reserve');
    let retry: Awaited<ReturnType<AgentKey['settle']>> | undefined;
    await h.lostThen(
      id,
      () => ak.settle(held.hold!.id, { costCents: 7, idempotencyKey: 'S1' }),
      async () => {
        retry = await direct.settle(held.hold!.id, { costCents: 7, idempotencyKey: 'S1' });
      },
    );
    const again = await direct.settle(held.hold!.id, { costCents: 7, idempotencyKey: 'S1' });
    const b = (await direct.getKey(id))!.budget;
    const ledger = (await direct.spend({ keyId: id }, all)).totalCents;
    const oks = [retry, again].filter((r) => r?.ok).length;
    expect({ used: b.usedCents, held: b.heldCents, ledger }).toEqual({
      used: oks ? 7 : 0,
      held: 0,
      ledger: oks ? 7 : 0,
    });
  });
});
