import type { AgentKey } from '@agentkey/core';
import { manualClock, openStore, type TestDb } from '@agentkey/test-support/db.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Regressions for defects an independent review found; each fails on the code before its fix.
describe('budget engine review regressions (server)', () => {
  let db: TestDb;
  let ak: AgentKey;
  const clock = manualClock(new Date('2026-07-01T08:30:00Z'));
  beforeAll(async () => {
    ({ db, ak } = await openStore('postgres', { now: clock.now }));
  });
  afterAll(() => db.close());

  it("a pool parent's own charge counts its children's open holds", async () => {
    const parent = await ak.create({ accountId: 'rv1', budgetCents: 100 });
    const child = await ak.create({ accountId: 'rv1', poolParentId: parent.id });
    const held = await ak.reserve(child.key, { maxCents: 80 });
    expect(held.ok).toBe(true);
    expect(await ak.authorize(parent.key, { costCents: 50 })).toMatchObject({
      ok: false,
      error: { code: 'budget_exceeded' },
    });
    expect(await ak.settle(held.ok ? held.hold!.id : '0', { costCents: 80 })).toMatchObject({
      chargedCents: 80,
      shortfallCents: 0,
    });
  });

  it('a key deleted while a charge waits for its lock is unknown, never a pass', async () => {
    const { key, id } = await ak.create({ accountId: 'rv2', budgetCents: 1, scopes: ['read'] });
    const locker = db.newPool();
    const client = await locker.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SELECT 1 FROM ${db.table} WHERE id = $1 FOR UPDATE`, [id]);
      const pending = ak.authorize(key, { scope: 'write', costCents: 5, idempotencyKey: 'x' });
      await new Promise((r) => setTimeout(r, 100));
      await client.query(`DELETE FROM ${db.table} WHERE id = $1`, [id]);
      await client.query('COMMIT');
      expect(await pending).toMatchObject({ ok: false, error: { code: 'invalid_token', reason: 'unknown' } });
    } finally {
      client.release();
    }
  });

  it('a hold taken before a ceiling is set counts against it when settled', async () => {
    const a = await ak.create({ accountId: 'rv3' });
    const b = await ak.create({ accountId: 'rv3' });
    const held = await ak.reserve(a.key, { maxCents: 50 });
    await ak.setAccountBudget('rv3', { budgetCents: 60 });
    // The open hold already counts against the new ceiling…
    expect(await ak.authorize(b.key, { costCents: 20 })).toMatchObject({
      ok: false,
      error: { cap: 'account' },
    });
    // …and its settle is charged to the account.
    expect(await ak.settle(held.ok ? held.hold!.id : '0', { costCents: 50 })).toMatchObject({ ok: true });
    expect(await ak.authorize(b.key, { costCents: 11 })).toMatchObject({
      ok: false,
      error: { cap: 'account' },
    });
    expect(await ak.getAccount('rv3')).toMatchObject({ usedCents: 50 });
  });

  it('clearing and re-setting a ceiling starts its count afresh', async () => {
    const k = await ak.create({ accountId: 'rv4' });
    await ak.setAccountBudget('rv4', { budgetCents: 10 });
    await ak.authorize(k.key, { costCents: 8 });
    await ak.setAccountBudget('rv4', { budgetCents: null });
    await ak.authorize(k.key, { costCents: 100 });
    await ak.setAccountBudget('rv4', { budgetCents: 10 });
    expect(await ak.getAccount('rv4')).toMatchObject({ usedCents: 0 });
    expect(await ak.authorize(k.key, { costCents: 10 })).toMatchObject({ ok: true });
  });

  it('a key moved into a capped account by hand is capped at once', async () => {
    await ak.setAccountBudget('rv5-capped', { budgetCents: 10 });
    const k = await ak.create({ accountId: 'rv5-free' });
    expect(await ak.authorize(k.key, { costCents: 1 })).toMatchObject({ ok: true }); // flag settles to false
    await db.pool.query(`UPDATE ${db.table} SET account_id = 'rv5-capped' WHERE id = $1`, [k.id]);
    expect(await ak.authorize(k.key, { costCents: 500 })).toMatchObject({
      ok: false,
      error: { cap: 'account' },
    });
  });

  it('an idempotent replay reports the hold the first call took', async () => {
    const { key } = await ak.create({ accountId: 'rv6' });
    const first = await ak.authorize(key, { holdCents: 10, holdTtl: '5m', idempotencyKey: 'h' });
    clock.advance(60_000);
    const replay = await ak.authorize(key, { holdCents: 99, holdTtl: '15m', idempotencyKey: 'h' });
    expect(replay).toMatchObject({ ok: true, replayed: true });
    expect(replay.ok && replay.hold).toEqual(first.ok && first.hold);
  });

  it('revoke and getKey take the id as digits, as 0.2.0 callers pass req.params.id', async () => {
    const { key, id } = await ak.create({ accountId: 'rv7' });
    expect(await ak.getKey(String(id))).toMatchObject({ id });
    expect(await ak.revoke(String(id), 'rv7')).toBe(true);
    expect(await ak.validate(key)).toEqual({ valid: false, reason: 'revoked' });
    expect(await ak.revoke('12abc')).toBe(false);
  });
});
