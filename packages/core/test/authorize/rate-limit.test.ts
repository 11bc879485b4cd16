import { type AgentKey, AgentKeyInputError, type AuthorizeResult } from '@agentkey/core';
import { BACKENDS, manualClock, openStore, type TestDb } from '@agentkey/test-support/db.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const refusal = (r: AuthorizeResult) => (r.ok ? null : r.error);

/**
 * Rate limits (sql/rate-rules.ts): a fixed window from the first admitted call, on keys, subjects
 * and accounts, counting calls and cents. The clock is the store's: windows reset by moving it.
 */
describe.each(BACKENDS)('rate limits (%s)', (backend) => {
  let db: TestDb;
  let ak: AgentKey;
  const clock = manualClock();
  beforeAll(async () => {
    ({ db, ak } = await openStore(backend, { now: clock.now, ledger: true }));
  });
  afterAll(() => db.close());

  const ledger = async (id: number) =>
    (
      await db.pool.query(
        `SELECT kind, amount_micros::float8 AS m FROM ${db.table}_ledger WHERE principal_id = $1
          AND kind IN ('charge', 'hold', 'settle', 'release') ORDER BY id`,
        [id],
      )
    ).rows;
  const used = async (id: number) => (await ak.getKey(id))!.budget;

  it('a key admits `requests` calls per window, refuses the next with its numbers, then resets', async () => {
    const { key, id } = await ak.create({ accountId: 'r1', rateLimit: { requests: 3, windowSec: 60 } });
    expect((await ak.getKey(id))!.rateLimit).toEqual({ requests: 3, cents: null, windowSec: 60 });
    const passed = [];
    for (let i = 0; i < 3; i++) passed.push(await ak.authorize(key, { costCents: 1 }));
    expect(passed.every((r) => r.ok)).toBe(true);
    expect(passed.map((r) => (r.ok ? r.rateLimit?.remaining : -1))).toEqual([2, 1, 0]);
    clock.advance(20_000);
    const refused = await ak.authorize(key, { costCents: 1 });
    expect(refusal(refused)).toMatchObject({
      code: 'rate_limited',
      retryAfterSec: 40,
      rateLimit: { policy: 'key', kind: 'requests', limit: 3, remaining: 0, resetSec: 40, windowSec: 60 },
    });
    // The refusal charged nothing, and did not count: after the window, three more pass.
    expect((await used(id)).usedCents).toBe(3);
    expect(await ledger(id)).toHaveLength(3);
    clock.advance(40_000);
    for (let i = 0; i < 3; i++) expect((await ak.authorize(key, { costCents: 1 })).ok).toBe(true);
    expect(refusal(await ak.authorize(key, {}))?.code).toBe('rate_limited');
    expect((await used(id)).usedCents).toBe(6);
  });

  it('a cents window counts charges and holds; a settle counts its cost instead of its hold', async () => {
    const { key, id } = await ak.create({ accountId: 'r2', rateLimit: { cents: 10 } });
    expect((await ak.authorize(key, { costCents: 6 })).ok).toBe(true);
    const over = await ak.authorize(key, { costCents: 5 });
    expect(refusal(over)).toMatchObject({
      code: 'rate_limited',
      rateLimit: { policy: 'key', kind: 'cents', limit: 10, remaining: 4, windowSec: 60 },
    });
    // A hold of 4 fills the window; settled at 1 it frees 3 of them.
    const held = await ak.reserve(key, { maxCents: 4 });
    expect(held.ok).toBe(true);
    expect(refusal(await ak.authorize(key, { costCents: 1 }))?.code).toBe('rate_limited');
    expect(await ak.settle(held.ok ? held.hold!.id : '', { costCents: 1 })).toMatchObject({ ok: true });
    expect((await ak.authorize(key, { costCents: 3 })).ok).toBe(true);
    expect(refusal(await ak.authorize(key, { costCents: 0.01 }))?.code).toBe('rate_limited');
    // A free call spends nothing: a spend window admits it.
    expect((await ak.authorize(key, {})).ok).toBe(true);
    expect((await used(id)).usedCents).toBe(10);
    // A release gives the whole hold back to the window.
    clock.advance(60_000);
    const second = await ak.reserve(key, { maxCents: 10 });
    expect(refusal(await ak.authorize(key, { costCents: 1 }))?.code).toBe('rate_limited');
    expect(await ak.release(second.ok ? second.hold!.id : '')).toMatchObject({ ok: true });
    expect((await ak.authorize(key, { costCents: 10 })).ok).toBe(true);
  });

  it('a call above the whole cents window is refused with no Retry-After: no reset lets it pass', async () => {
    const { key, id } = await ak.create({ accountId: 'r2b', rateLimit: { cents: 1, windowSec: 60 } });
    for (const asked of [{ costCents: 2 }, { holdCents: 1.5 }]) {
      const never = refusal(await ak.authorize(key, asked));
      expect(never).toMatchObject({ code: 'rate_limited', rateLimit: { kind: 'cents', limit: 1 } });
      expect(never).not.toHaveProperty('retryAfterSec');
      expect(never?.description).toMatch(
        /more than the credential's whole rate window allows \(1 cents per 60 s\)/,
      );
    }
    // One that fits a window but not what is left of this one still says when to come back.
    expect((await ak.authorize(key, { costCents: 0.7 })).ok).toBe(true);
    // (A Redis mirror knows the window's start to the second, the earliest it can be: 59 or 60.)
    const fits = refusal(await ak.authorize(key, { costCents: 0.7 }));
    expect(fits?.code).toBe('rate_limited');
    expect(fits?.retryAfterSec).toBeGreaterThanOrEqual(59);
    expect((await used(id)).usedCents).toBe(0.7);
  });

  it('an idempotent replay is answered without counting again, even past the limit', async () => {
    const { key, id } = await ak.create({ accountId: 'r3', rateLimit: { requests: 2 } });
    const first = await ak.authorize(key, { costCents: 2, idempotencyKey: 'same' });
    const again = await ak.authorize(key, { costCents: 2, idempotencyKey: 'same' });
    expect(again).toMatchObject({ ok: true, replayed: true });
    expect(first.ok).toBe(true);
    // The replay did not use the second call of the window.
    expect((await ak.authorize(key, { costCents: 1 })).ok).toBe(true);
    expect(refusal(await ak.authorize(key, { costCents: 1 }))?.code).toBe('rate_limited');
    // And a replay past the limit still answers the first outcome.
    expect(await ak.authorize(key, { costCents: 2, idempotencyKey: 'same' })).toMatchObject({
      ok: true,
      replayed: true,
    });
    expect((await used(id)).usedCents).toBe(3);
    expect((await ledger(id)).map((r) => r.m)).toEqual([20_000, 10_000]);
  });

  it('a refused reserve holds nothing and leaves its idempotency key free', async () => {
    const { key, id } = await ak.create({ accountId: 'r4', rateLimit: { requests: 1 } });
    expect((await ak.reserve(key, { maxCents: 5 })).ok).toBe(true);
    const refused = await ak.reserve(key, { maxCents: 5, idempotencyKey: 'retry-me' });
    expect(refusal(refused)?.code).toBe('rate_limited');
    expect((await used(id)).heldCents).toBe(5);
    expect(await ledger(id)).toHaveLength(1);
    clock.advance(60_000);
    const retried = await ak.reserve(key, { maxCents: 5, idempotencyKey: 'retry-me' });
    expect(retried.ok && retried.replayed).toBe(undefined);
    expect(await ledger(id)).toHaveLength(2);
  });

  it('an account limit binds all its keys together, and names the account', async () => {
    const keys = await Promise.all([1, 2, 3].map(() => ak.create({ accountId: 'r5' })));
    const info = await ak.setAccountRateLimit('r5', { requests: 4, windowSec: 30 });
    expect(info.rateLimit).toEqual({ requests: 4, cents: null, windowSec: 30 });
    expect((await ak.getAccount('r5'))!.rateLimit).toEqual(info.rateLimit);
    const audit = await db.pool.query(
      `SELECT metadata FROM ${db.table}_ledger WHERE account_id = 'r5' AND kind = 'admin:account_rate_limit'`,
    );
    expect(audit.rows.map((r) => r.metadata)).toEqual([{ requests: 4, cents: null, window_sec: 30 }]);
    const answers = [];
    for (const k of [...keys, ...keys]) answers.push(await ak.authorize(k.key, { costCents: 1 }));
    expect(answers.filter((r) => r.ok)).toHaveLength(4);
    expect(refusal(answers[5]!)).toMatchObject({
      code: 'rate_limited',
      rateLimit: { policy: 'account', kind: 'requests', limit: 4, remaining: 0, windowSec: 30 },
    });
    // Removed: every key is unlimited again (and goes back to the lean statements).
    expect((await ak.setAccountRateLimit('r5', null)).rateLimit).toBeNull();
    expect((await ak.authorize(keys[0]!.key, { costCents: 1 })).ok).toBe(true);
  });

  it('an account cents limit with a budget ceiling: both bind, the key limit first', async () => {
    await ak.setAccountBudget('r6', { budgetCents: 1000 });
    await ak.setAccountRateLimit('r6', { cents: 5 });
    const { key } = await ak.create({ accountId: 'r6', rateLimit: { requests: 10 } });
    expect((await ak.authorize(key, { costCents: 5 })).ok).toBe(true);
    expect(refusal(await ak.authorize(key, { costCents: 1 }))).toMatchObject({
      code: 'rate_limited',
      rateLimit: { policy: 'account', kind: 'cents', remaining: 0 },
    });
    expect((await ak.getAccount('r6'))!.usedCents).toBe(5);
  });

  it('subjects and updates carry limits; update changes or removes one', async () => {
    await ak.ensureSubject('ns|rate', { rateLimit: { requests: 1 }, budgetCents: null });
    expect((await ak.getSubject('ns|rate'))!.rateLimit).toEqual({ requests: 1, cents: null, windowSec: 60 });
    expect((await ak.authorize({ subject: 'ns|rate' }, {})).ok).toBe(true);
    expect(refusal(await ak.authorize({ subject: 'ns|rate' }, {}))?.code).toBe('rate_limited');
    const updated = await ak.updateSubject('ns|rate', { rateLimit: { requests: 2 } });
    expect(updated!.rateLimit).toEqual({ requests: 2, cents: null, windowSec: 60 });
    // The window's count carried over: one more fits.
    expect((await ak.authorize({ subject: 'ns|rate' }, {})).ok).toBe(true);
    expect(refusal(await ak.authorize({ subject: 'ns|rate' }, {}))?.code).toBe('rate_limited');
    const { id, key } = await ak.create({ accountId: 'r7' });
    expect((await ak.update(id, { rateLimit: { requests: 1 } }))!.rateLimit?.requests).toBe(1);
    expect((await ak.authorize(key, {})).ok).toBe(true);
    expect(refusal(await ak.authorize(key, {}))?.code).toBe('rate_limited');
    expect((await ak.update(id, { rateLimit: null }))!.rateLimit).toBeNull();
    expect((await ak.authorize(key, {})).ok).toBe(true);
  });

  it('concurrent reserves and charges, batched, never pass a window; settles free what they did not use', async () => {
    const { key, id } = await ak.create({ accountId: 'r8', rateLimit: { requests: 10, cents: 100 } });
    const holds = await Promise.all(Array.from({ length: 60 }, () => ak.reserve(key, { maxCents: 5 })));
    const charges = await Promise.all(Array.from({ length: 60 }, () => ak.authorize(key, { costCents: 1 })));
    const passed = [...holds, ...charges].filter((r) => r.ok);
    expect(passed).toHaveLength(10);
    expect(
      [...holds, ...charges].filter((r) => !r.ok).every((r) => refusal(r)?.code === 'rate_limited'),
    ).toBe(true);
    const open = holds.flatMap((r) => (r.ok && r.hold ? [r.hold.id] : []));
    await Promise.all(open.map((h) => ak.settle(h, { costCents: 0 })));
    const events = await ledger(id);
    expect(events.filter((e) => e.kind === 'hold' || e.kind === 'charge')).toHaveLength(10);
    expect((await used(id)).heldCents).toBe(0);
  });

  it("0.2.0's trackUsage answers rate_limited and charges nothing", async () => {
    const { key, id } = await ak.create({ accountId: 'r9', rateLimit: { requests: 1 } });
    expect(await ak.trackUsage(key, { costCents: 1 })).toMatchObject({ success: true });
    expect(await ak.trackUsage(key, { costCents: 1 })).toEqual({ success: false, reason: 'rate_limited' });
    expect((await used(id)).usedCents).toBe(1);
  });

  it.each([
    [{ requests: 0 }, 'rateLimit.requests'],
    [{ requests: 1.5 }, 'rateLimit.requests'],
    [{ cents: -1 }, 'rateLimit.cents'],
    [{ requests: 1, windowSec: 0 }, 'rateLimit.windowSec'],
    [{ requests: 1, windowSec: 86_401 }, 'rateLimit.windowSec'],
    [{ requests: 1, perMinute: 3 }, 'rateLimit.perMinute'],
    [{ windowSec: 60 }, 'rateLimit'],
    ['50/min', 'rateLimit'],
  ])('refuses a bad rateLimit %j naming %s, everywhere it is taken', async (limit, field) => {
    const bad = limit as never;
    const named = (e: unknown) => e instanceof AgentKeyInputError && e.field === field;
    await expect(ak.create({ accountId: 'bad', rateLimit: bad }).catch(named)).resolves.toBe(true);
    await expect(ak.ensureSubject('ns|bad', { rateLimit: bad }).catch(named)).resolves.toBe(true);
    await expect(ak.update(1, { rateLimit: bad }).catch(named)).resolves.toBe(true);
    await expect(ak.setAccountRateLimit('bad', bad).catch(named)).resolves.toBe(true);
    expect(await ak.getAccount('bad')).toBeNull();
    expect(await ak.getSubject('ns|bad')).toBeNull();
  });
});
