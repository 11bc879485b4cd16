import type { AgentKey } from '@agentkey/core';
import { BACKENDS, manualClock, openStore, type TestDb } from '@agentkey/test-support/db.js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe.each(BACKENDS)('budget engine (%s)', (backend) => {
  let db: TestDb;
  let ak: AgentKey;
  const clock = manualClock(new Date('2026-04-10T12:00:00Z'));
  beforeAll(async () => {
    ({ db, ak } = await openStore(backend, { now: clock.now }));
  });
  afterAll(() => db.close());
  const rows = async (sql: string, params: unknown[] = []) =>
    (await db.pool.query(sql.replaceAll('{T}', db.table).replaceAll('{L}', `${db.table}_ledger`), params))
      .rows;

  it('reserve counts at once; settle charges the actual cost and frees the rest', async () => {
    const { key, id } = await ak.create({ accountId: 'h1', budgetCents: 10 });
    const held = await ak.reserve(key, { maxCents: 6 });
    expect(held).toMatchObject({ ok: true, hold: { amountCents: 6 } });
    // used 0 + held 6 + 5 > 10: refused while the hold stands.
    expect(await ak.authorize(key, { costCents: 5 })).toMatchObject({
      ok: false,
      error: { code: 'budget_exceeded' },
    });
    const settled = await ak.settle(held.ok ? held.hold!.id : '0', { costCents: 2.5 });
    expect(settled).toMatchObject({
      ok: true,
      chargedCents: 2.5,
      shortfallCents: 0,
      budget: { usedCents: 2.5 },
    });
    expect(await ak.authorize(key, { costCents: 7.5 })).toMatchObject({
      ok: true,
      budget: { usedCents: 10 },
    });
    const [row] = await rows('SELECT held_micros::int AS held FROM {T} WHERE id = $1', [id]);
    expect(row.held).toBe(0);
  });

  it('authorize with holdCents reserves in the same step; release frees it all', async () => {
    const { key } = await ak.create({ accountId: 'h2', budgetCents: 5 });
    const first = await ak.authorize(key, { costCents: 1, holdCents: 4 });
    expect(first).toMatchObject({ ok: true, chargedCents: 1, hold: { amountCents: 4 } });
    expect(await ak.authorize(key, { costCents: 0.5 })).toMatchObject({
      ok: false,
      error: { code: 'budget_exceeded' },
    });
    expect(await ak.release(first.ok ? first.hold!.id : '0')).toMatchObject({ ok: true, chargedCents: 0 });
    expect(await ak.authorize(key, { costCents: 4 })).toMatchObject({ ok: true, budget: { usedCents: 5 } });
  });

  it('settling more than the hold charges what the cap allows and reports the shortfall', async () => {
    const { key } = await ak.create({ accountId: 'h3', budgetCents: 10 });
    await ak.authorize(key, { costCents: 3 });
    const held = await ak.reserve(key, { maxCents: 5 });
    const settled = await ak.settle(held.ok ? held.hold!.id : '0', { costCents: 9 });
    expect(settled).toMatchObject({
      ok: true,
      chargedCents: 7,
      shortfallCents: 2,
      cap: 'key',
      budget: { usedCents: 10 },
    });
    const twice = await ak.settle(held.ok ? held.hold!.id : '0', { costCents: 1 });
    expect(twice).toMatchObject({ ok: false, error: { code: 'hold_closed' } });
    expect(await ak.settle('999999999', { costCents: 1 })).toMatchObject({
      ok: false,
      error: { code: 'hold_not_found' },
    });
  });

  it('holds expire without a sweeper, and an expired hold cannot be settled', async () => {
    clock.set('2026-04-10T12:00:00Z');
    const { key, id } = await ak.create({ accountId: 'h4', budgetCents: 10 });
    const held = await ak.reserve(key, { maxCents: 8, ttl: '2m' });
    expect(await ak.authorize(key, { costCents: 3 })).toMatchObject({ ok: false });
    clock.advance(2 * 60_000);
    // No job ran: the hold simply stopped counting.
    expect(await ak.authorize(key, { costCents: 3 })).toMatchObject({ ok: true, budget: { usedCents: 3 } });
    const late = await ak.settle(held.ok ? held.hold!.id : '0', { costCents: 8 });
    expect(late).toMatchObject({ ok: false, error: { code: 'hold_expired' } });
    expect(await rows(`SELECT kind FROM {L} WHERE principal_id = $1 ORDER BY id`, [id])).toEqual([
      { kind: 'admin:create' },
      { kind: 'hold' },
      { kind: 'expire' },
      { kind: 'charge' },
    ]);
    clock.set('2026-04-10T12:00:00Z');
  });

  it('an idempotency key charges once and replays the first outcome', async () => {
    const { key, id } = await ak.create({ accountId: 'i1', budgetCents: 100 });
    const first = await ak.authorize(key, { costCents: 7, idempotencyKey: 'req-1' });
    const again = await ak.authorize(key, { costCents: 7, idempotencyKey: 'req-1' });
    expect(first).toMatchObject({ ok: true, chargedCents: 7 });
    expect(again).toMatchObject({ ok: true, chargedCents: 7, replayed: true, budget: { usedCents: 7 } });
    // One namespace for charges: the same key reused by trackUsage charges nothing more.
    const replay = { budgetUsedCents: 7 };
    expect(await ak.trackUsage(key, { costCents: 2, idempotencyKey: 'req-1' })).toMatchObject(replay);
    const fresh = { budgetUsedCents: 9 };
    expect(await ak.trackUsage(key, { costCents: 2, idempotencyKey: 'req-2' })).toMatchObject(fresh);
    expect(await ak.trackUsage(key, { costCents: 2, idempotencyKey: 'req-2' })).toMatchObject(fresh);
    const held = await ak.reserve(key, { maxCents: 5, idempotencyKey: 'r-1' });
    const heldAgain = await ak.reserve(key, { maxCents: 5, idempotencyKey: 'r-1' });
    expect(heldAgain.ok && held.ok && heldAgain.hold?.id).toBe(held.ok && held.hold?.id);
    const holdId = held.ok ? held.hold!.id : '0';
    expect(await ak.settle(holdId, { costCents: 4, idempotencyKey: 's-1' })).toMatchObject({
      chargedCents: 4,
    });
    expect(await ak.settle(holdId, { costCents: 4, idempotencyKey: 's-1' })).toMatchObject({
      chargedCents: 4,
      replayed: true,
    });
    const sums = await rows(
      `SELECT kind, sum(amount_micros)::int AS m FROM {L} WHERE principal_id = $1 GROUP BY kind ORDER BY kind`,
      [id],
    );
    expect(sums).toEqual([
      { kind: 'admin:create', m: 0 },
      { kind: 'charge', m: 90_000 },
      { kind: 'hold', m: 50_000 },
      { kind: 'settle', m: 40_000 },
    ]);
  });

  it('a replay is still bound by revocation, expiry and scope, and keeps the first claim', async () => {
    clock.set('2026-04-10T12:00:00Z');
    const { key, id } = await ak.create({ accountId: 'i3', scopes: ['read'], expiresIn: '1h' });
    expect(await ak.authorize(key, { scope: 'read', costCents: 1, idempotencyKey: 'a' })).toMatchObject({
      ok: true,
    });
    expect(await ak.authorize(key, { holdCents: 2, idempotencyKey: 'b' })).toMatchObject({ ok: true });
    // An old idempotency key never widens what the credential may do.
    expect(await ak.authorize(key, { scope: 'write', costCents: 1, idempotencyKey: 'a' })).toMatchObject({
      ok: false,
      error: { code: 'insufficient_scope' },
    });
    expect(await ak.authorize(key, { scope: 'read', costCents: 1, idempotencyKey: 'a' })).toMatchObject({
      ok: true,
      replayed: true,
    });
    clock.advance(2 * 3_600_000);
    expect(await ak.authorize(key, { holdCents: 2, idempotencyKey: 'b' })).toMatchObject({
      ok: false,
      error: { code: 'invalid_token', reason: 'expired' },
    });
    clock.set('2026-04-10T12:00:00Z');
    await ak.ensureSubject('idp|replayer', { accountId: 'i3' });
    const subject = { subject: 'idp|replayer' };
    expect(await ak.authorize(subject, { costCents: 1, idempotencyKey: 'c' })).toMatchObject({ ok: true });
    await ak.revoke(id);
    await ak.revokeSubject('idp|replayer');
    for (const [who, idem] of [
      [key, 'a'],
      [subject, 'c'],
    ] as const) {
      expect(await ak.authorize(who, { costCents: 1, idempotencyKey: idem })).toMatchObject({
        ok: false,
        error: { code: 'invalid_token', reason: 'revoked' },
      });
    }
    // The refused replays took nothing and gave nothing back: each first claim still stands.
    const claims = await rows(`SELECT key FROM {T}_idempotency WHERE principal_id = $1 ORDER BY key`, [id]);
    expect(claims.map((c) => c.key)).toEqual(['a', 'b']);
    expect((await ak.getKey(id))!.budget.usedCents).toBe(1);
  });

  it('a refused call does not burn its idempotency key', async () => {
    const { key } = await ak.create({ accountId: 'i2', budgetCents: 1 });
    expect(await ak.authorize(key, { costCents: 2, idempotencyKey: 'k' })).toMatchObject({ ok: false });
    await ak.topUp({ accountId: 'nobody' }, 1).catch(() => undefined);
    const info = await ak.listKeys('i2');
    await ak.topUp({ keyId: info[0]!.id }, 5);
    expect(await ak.authorize(key, { costCents: 2, idempotencyKey: 'k' })).toMatchObject({
      ok: true,
      chargedCents: 2,
    });
  });

  it('account ceilings: every key must fit both caps; refusals name the cap', async () => {
    await ak.setAccountBudget(
      'team',
      { budgetCents: 10, budgetPeriod: 'month' },
      { actor: 'ops@example.com' },
    );
    const a = await ak.create({ accountId: 'team', budgetCents: 8 });
    const b = await ak.create({ accountId: 'team', budgetCents: 8 });
    expect(await ak.authorize(a.key, { costCents: 6 })).toMatchObject({
      ok: true,
      account: { usedCents: 6, limitCents: 10 },
    });
    const refused = await ak.authorize(b.key, { costCents: 5 });
    expect(refused).toMatchObject({ ok: false, error: { code: 'budget_exceeded', cap: 'account' } });
    expect(await ak.authorize(a.key, { costCents: 3 })).toMatchObject({ ok: false, error: { cap: 'key' } });
    expect(await ak.authorize(b.key, { costCents: 4 })).toMatchObject({ ok: true });
    expect(await ak.getAccount('team')).toMatchObject({ limitCents: 10, usedCents: 10, remainingCents: 0 });
    await ak.topUp({ accountId: 'team' }, 5);
    expect(await ak.authorize(b.key, { costCents: 4 })).toMatchObject({
      ok: true,
      account: { usedCents: 14 },
    });
    const audit = await rows(
      `SELECT kind, actor FROM {L} WHERE account_id = 'team' AND kind LIKE 'admin:account%'`,
    );
    expect(audit).toEqual([{ kind: 'admin:account_budget', actor: 'ops@example.com' }]);
  });

  it('a ceiling set after keys exist applies to them at once', async () => {
    const k = await ak.create({ accountId: 'late' });
    expect(await ak.authorize(k.key, { costCents: 5 })).toMatchObject({ ok: true });
    await ak.setAccountBudget('late', { budgetCents: 3 });
    expect(await ak.authorize(k.key, { costCents: 4 })).toMatchObject({
      ok: false,
      error: { cap: 'account' },
    });
    expect(await ak.authorize(k.key, { costCents: 3 })).toMatchObject({ ok: true });
    await ak.setAccountBudget('late', { budgetCents: null });
    expect(await ak.authorize(k.key, { costCents: 50 })).toMatchObject({ ok: true });
  });

  it('pooled children draw on the parent: together they never pass its cap', async () => {
    const parent = await ak.create({ accountId: 'pool', budgetCents: 10 });
    const child = await ak.create({ accountId: 'pool', poolParentId: parent.id, budgetCents: 8 });
    expect(await ak.authorize(child.key, { costCents: 6 })).toMatchObject({ ok: true });
    expect(await ak.authorize(parent.key, { costCents: 5 })).toMatchObject({
      ok: false,
      error: { code: 'budget_exceeded' },
    });
    expect(await ak.authorize(child.key, { costCents: 3 })).toMatchObject({
      ok: false,
      error: { cap: 'key' },
    });
    expect(await ak.authorize(parent.key, { costCents: 4 })).toMatchObject({
      ok: true,
      budget: { usedCents: 10 },
    });
  });

  it('exact money: 10,000 charges of 0.04 ¢ are exactly 400 ¢', async () => {
    const { key, id } = await ak.create({ accountId: 'money' });
    for (let i = 0; i < 10_000; i += 500) {
      await Promise.all(Array.from({ length: 500 }, () => ak.authorize(key, { costCents: 0.04 })));
    }
    const [row] = await rows(
      'SELECT budget_used_micros::text AS m, budget_used_cents AS c FROM {T} WHERE id = $1',
      [id],
    );
    expect(row).toEqual({ m: '4000000', c: 400 });
    expect(await ak.spend({ keyId: id }, { from: new Date(0), to: new Date('2100-01-01') })).toEqual({
      totalCents: 400,
    });
  }, 120_000);

  it('property: the sum of random sub-cent charges equals used, to the last unit', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 5_000_000 }), { minLength: 1, maxLength: 30 }),
        async (units) => {
          const { key, id } = await ak.create({ accountId: 'prop' });
          for (const u of units) await ak.authorize(key, { costCents: u / 10_000 });
          const [row] = await rows('SELECT budget_used_micros::text AS m FROM {T} WHERE id = $1', [id]);
          expect(BigInt(row.m)).toBe(units.reduce((s, u) => s + BigInt(u), 0n));
        },
      ),
      { numRuns: backend === 'pglite' ? 15 : 40 },
    );
  }, 120_000);

  it('the ledger refuses UPDATE, DELETE and TRUNCATE at the database', async () => {
    await expect(rows(`UPDATE {L} SET amount_micros = 0`)).rejects.toThrow(/append-only/);
    await expect(rows(`DELETE FROM {L}`)).rejects.toThrow(/append-only/);
    await expect(rows(`TRUNCATE {L}`)).rejects.toThrow(/append-only/);
  });

  it('spend by hour and day, and reset keeps ledger sums equal to the counter', async () => {
    clock.set('2026-05-01T10:15:00Z');
    const { key, id } = await ak.create({ accountId: 'spend' });
    await ak.authorize(key, { costCents: 1.25 });
    clock.set('2026-05-01T11:05:00Z');
    await ak.authorize(key, { costCents: 2 });
    clock.set('2026-05-02T09:00:00Z');
    await ak.authorize(key, { costCents: 3 });
    const range = { from: new Date('2026-05-01T00:00:00Z'), to: new Date('2026-05-03T00:00:00Z') };
    expect(await ak.spend({ keyId: id }, { ...range, groupBy: 'day' })).toEqual({
      totalCents: 6.25,
      buckets: [
        { start: new Date('2026-05-01T00:00:00Z'), cents: 3.25 },
        { start: new Date('2026-05-02T00:00:00Z'), cents: 3 },
      ],
    });
    expect((await ak.spend({ keyId: id }, { ...range, groupBy: 'hour' })).buckets).toHaveLength(3);
    expect(await ak.spend({ accountId: 'spend' }, range)).toEqual({ totalCents: 6.25 });
    await ak.resetBudget({ keyId: id }, { actor: 'admin' });
    const info = await ak.getKey(id);
    expect(info!.budget.usedCents).toBe(0);
    expect(await ak.spend({ keyId: id }, { from: range.from, to: new Date('2100-01-01') })).toEqual({
      totalCents: 0,
    });
    clock.set('2026-04-10T12:00:00Z');
  });

  it('admin actions are recorded with who did them', async () => {
    const k = await ak.create({ accountId: 'audit', delegatedBy: 'alice' });
    await ak.update(k.id, { budgetCents: 5 }, { actor: 'bob' });
    await ak.revoke(k.id, null, { actor: 'carol' });
    await ak.ensureSubject('idp|audit', { delegatedBy: 'dave' });
    // create takes who made it, as every other admin action does (it wins over delegatedBy).
    await ak.create({ accountId: 'audit', delegatedBy: 'alice' }, { actor: 'erin' });
    await expect(ak.create({ accountId: 'audit' }, { actor: 'tab\there' })).rejects.toThrow(/actor/);
    const audit = await rows(
      `SELECT kind, actor FROM {L} WHERE account_id IN ('audit', 'idp|audit') ORDER BY id`,
    );
    expect(audit).toEqual([
      { kind: 'admin:create', actor: 'alice' },
      { kind: 'admin:update', actor: 'bob' },
      { kind: 'admin:revoke', actor: 'carol' },
      { kind: 'admin:provision', actor: 'dave' },
      { kind: 'admin:create', actor: 'erin' },
    ]);
  });

  it('bad engine input is refused clearly and changes nothing', async () => {
    const { key } = await ak.create({ accountId: 'bad', budgetCents: 10 });
    await expect(ak.reserve(key, { maxCents: -1 })).rejects.toThrow(/maxCents/);
    await expect(ak.reserve(key, { maxCents: 1, ttl: '0m' })).rejects.toThrow(/holdTtl/);
    await expect(ak.authorize(key, { idempotencyKey: 'has space' })).rejects.toThrow(/idempotencyKey/);
    await expect(ak.authorize(key, { costCents: 1, metadata: { s: '\u0000' } })).rejects.toThrow(/metadata/);
    await expect(ak.settle('abc', { costCents: 1 })).rejects.toThrow(/holdId/);
    await expect(ak.settle('1', { costCents: Number.NaN })).rejects.toThrow(/costCents/);
    await expect(ak.setAccountBudget('x', { budgetCents: 1.5 })).rejects.toThrow(/budget/);
    await expect(ak.spend({ keyId: -1 }, { from: new Date(), to: new Date() })).rejects.toThrow(/keyId/);
    expect(await ak.validate(key)).toMatchObject({ budgetUsedCents: 0 });
  });
});

describe('with the ledger off', () => {
  it('charges still land exactly; no history rows are written', async () => {
    const { db, ak } = await openStore('postgres', { ledger: false });
    try {
      const { key, id } = await ak.create({ accountId: 'x', budgetCents: 5 });
      expect(await ak.authorize(key, { costCents: 2 })).toMatchObject({ ok: true });
      const held = await ak.reserve(key, { maxCents: 2 });
      expect(await ak.settle(held.ok ? held.hold!.id : '0', { costCents: 1 })).toMatchObject({ ok: true });
      const n = await db.pool.query(
        `SELECT count(*)::int AS n FROM ${db.table}_ledger WHERE principal_id = $1`,
        [id],
      );
      expect(n.rows[0].n).toBe(0);
      expect((await ak.getKey(id))!.budget.usedCents).toBe(3);
    } finally {
      await db.close();
    }
  });
});
