import type { AgentKey } from '@agentkey/core';
import { AgentKey as Store } from '@agentkey/core';
import { BACKENDS, manualClock, openStore, type TestDb } from '@agentkey/test-support/db.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe.each(BACKENDS)('authorize (%s)', (backend) => {
  let db: TestDb;
  let ak: AgentKey;
  const clock = manualClock();
  beforeAll(async () => {
    ({ db, ak } = await openStore(backend, { now: clock.now }));
  });
  afterAll(() => db.close());

  it('charges a native key and reports exact budget numbers', async () => {
    const { key, id } = await ak.create({ accountId: 'acct', scopes: ['chat'], budgetCents: 10 });
    const result = await ak.authorize({ key }, { scope: 'chat', costCents: 0.25 });
    expect(result).toMatchObject({
      ok: true,
      chargedCents: 0.25,
      principal: { kind: 'key', id, accountId: 'acct', scopes: ['chat'], subject: null },
      budget: { limitCents: 10, usedCents: 0.25, remainingCents: 9.75 },
    });
  });

  it('authorizes a subject by its row', async () => {
    await ak.ensureSubject('idp|m1', { budgetCents: 3, scopes: ['chat'], accountId: 'org' });
    const ok = await ak.authorize({ subject: 'idp|m1' }, { scope: 'chat', costCents: 2 });
    expect(ok).toMatchObject({
      ok: true,
      principal: { kind: 'subject', subject: 'idp|m1', accountId: 'org' },
    });
    const over = await ak.authorize({ subject: 'idp|m1' }, { scope: 'chat', costCents: 2 });
    expect(over).toMatchObject({
      ok: false,
      error: { code: 'budget_exceeded', cap: 'key' },
      budget: { usedCents: 2 },
    });
    expect(await ak.authorize({ subject: 'idp|nobody' })).toMatchObject({ error: { code: 'invalid_token' } });
  });

  it('refuses with the outcome codes of DESIGN.md, in 0.2.0 order', async () => {
    expect(await ak.authorize('ak_unknown')).toMatchObject({
      ok: false,
      error: { code: 'invalid_token', reason: 'unknown' },
    });
    expect(await ak.authorize('')).toMatchObject({
      ok: false,
      error: { code: 'invalid_token', reason: 'malformed' },
    });
    const { key, id } = await ak.create({ accountId: 'a', scopes: ['read'], budgetCents: 1 });
    expect(await ak.authorize(key, { scope: 'write' })).toMatchObject({
      error: { code: 'insufficient_scope', scope: 'write' },
    });
    expect(await ak.authorize(key, { scope: 'read', costCents: 2 })).toMatchObject({
      error: { code: 'budget_exceeded' },
    });
    await ak.revoke(id);
    // Revocation outranks scope and budget.
    expect(await ak.authorize(key, { scope: 'write', costCents: 2 })).toMatchObject({
      error: { code: 'invalid_token', reason: 'revoked' },
    });
  });

  it('admits a call only when its whole cost fits (no free tail)', async () => {
    const { key } = await ak.create({ accountId: 'a', budgetCents: 10 });
    expect(await ak.authorize(key, { costCents: 9.5 })).toMatchObject({ ok: true });
    expect(await ak.authorize(key, { costCents: 1 })).toMatchObject({
      ok: false,
      error: { code: 'budget_exceeded' },
    });
    expect(await ak.authorize(key, { costCents: 0.5 })).toMatchObject({
      ok: true,
      budget: { remainingCents: 0 },
    });
    // A spent key refuses even a free call, as validate does.
    expect(await ak.authorize(key)).toMatchObject({ ok: false, error: { code: 'budget_exceeded' } });
  });

  it('periodic refusal says when to retry, and the reset frees the budget', async () => {
    clock.set('2026-01-31T10:00:00Z');
    const { key } = await ak.create({ accountId: 'a', budgetCents: 2, budgetPeriod: 'month' });
    expect(await ak.authorize(key, { costCents: 2 })).toMatchObject({ ok: true });
    const refused = await ak.authorize(key, { costCents: 1 });
    expect(refused).toMatchObject({ ok: false, error: { code: 'budget_exceeded' } });
    // Jan 31 + 1 month clamps to Feb 28 (2026 is not a leap year), at 00:00 UTC.
    const retry = 28 * 86_400 - 10 * 3_600;
    expect(!refused.ok && refused.error.retryAfterSec).toBe(retry);
    clock.set('2026-02-28T00:00:00Z');
    expect(await ak.authorize(key, { costCents: 2 })).toMatchObject({
      ok: true,
      budget: { usedCents: 2, resetAt: new Date('2026-03-28T00:00:00Z') },
    });
    clock.set(new Date());
  });

  it('a free authorize writes nothing unless last_used_at is a minute old', async () => {
    clock.set('2026-05-01T00:00:00Z');
    const { key, id } = await ak.create({ accountId: 'a' });
    const lastUsed = async () =>
      (await db.pool.query(`SELECT last_used_at, xmin::text AS v FROM ${db.table} WHERE id = $1`, [id]))
        .rows[0];
    await ak.authorize(key);
    const first = await lastUsed();
    expect(first.last_used_at).toEqual(new Date('2026-05-01T00:00:00Z'));
    clock.advance(30_000);
    await ak.authorize(key);
    await ak.validate(key);
    const second = await lastUsed();
    expect(second.v).toBe(first.v); // no new row version: nothing was written
    clock.advance(31_000);
    await ak.validate(key);
    expect((await lastUsed()).last_used_at).toEqual(new Date('2026-05-01T00:01:01Z'));
    clock.set(new Date());
  });

  it('intersects the row and token scopes and takes the earlier expiry', async () => {
    await ak.ensureSubject('idp|tok', { scopes: ['read', 'write'], expiresIn: '30d' });
    const tokenExpiresAt = new Date(clock.now().getTime() + 60_000);
    const ok = await ak.authorize(
      { subject: 'idp|tok' },
      { scope: 'read', tokenScopes: ['read', 'other'], tokenExpiresAt },
    );
    expect(ok).toMatchObject({ ok: true, principal: { scopes: ['read'], expiresAt: tokenExpiresAt } });
    expect(
      await ak.authorize({ subject: 'idp|tok' }, { scope: 'write', tokenScopes: ['read'] }),
    ).toMatchObject({
      error: { code: 'insufficient_scope' },
    });
    expect(
      await ak.authorize({ subject: 'idp|tok' }, { scope: 'other', tokenScopes: ['other'] }),
    ).toMatchObject({
      error: { code: 'insufficient_scope' },
    });
  });

  it('descriptor cache: decisions read the row every time; descriptive fields lag at most the TTL', async () => {
    clock.set('2026-06-01T00:00:00Z');
    const { key, id } = await ak.create({ accountId: 'a', name: 'before', scopes: ['chat', 'search'] });
    expect(await ak.authorize(key, { scope: 'chat', costCents: 1 })).toMatchObject({
      principal: { name: 'before' },
    });
    await db.pool.query(`UPDATE ${db.table} SET name = 'after', scopes = ARRAY['chat'] WHERE id = $1`, [id]);
    // The decision sees the edit at once…
    expect(await ak.authorize(key, { scope: 'search', costCents: 1 })).toMatchObject({
      error: { code: 'insufficient_scope' },
    });
    clock.advance(500);
    await db.pool.query(`UPDATE ${db.table} SET name = 'later' WHERE id = $1`, [id]);
    const cached = await ak.authorize(key, { scope: 'chat', costCents: 1 });
    // …the refusal above re-read the row, so the descriptor is at most that fresh, never older than 1 s.
    expect(cached).toMatchObject({ ok: true, principal: { name: 'after' } });
    clock.advance(1001);
    expect(await ak.authorize(key, { scope: 'chat', costCents: 1 })).toMatchObject({
      principal: { name: 'later' },
    });
    await db.pool.query(`UPDATE ${db.table} SET revoked_at = now() WHERE id = $1`, [id]);
    expect(await ak.authorize(key, { scope: 'chat', costCents: 1 })).toMatchObject({
      error: { reason: 'revoked' },
    });
    clock.set(new Date());
  });

  it('refuses a descriptor TTL above the 1 s revocation bound', () => {
    expect(() => new Store({ pool: db.pool, descriptorTtlMs: 5000 })).toThrow(/descriptorTtlMs/);
  });

  it('a passing charge costs one round trip, from the very first charge of a new key', async () => {
    let queries = 0;
    const counting = {
      query: (text: string, params?: unknown[]) => {
        queries++;
        return db.pool.query(text, params);
      },
    };
    const store = new Store({ pool: counting, tableName: db.table, now: clock.now });
    const { key } = await store.create({ accountId: 'one-trip', budgetCents: 100 });
    queries = 0;
    expect(await store.authorize(key, { costCents: 1 })).toMatchObject({ ok: true });
    expect(await store.authorize(key, { costCents: 1, scope: 'any' })).toMatchObject({ ok: true });
    expect(queries).toBe(2);
  });

  it('a token past its own expiry is refused as expired, charging and holding nothing', async () => {
    await ak.ensureSubject('idp|stale', { budgetCents: 10, accountId: 'org' });
    const subject = { subject: 'idp|stale' };
    const past = new Date(clock.now().getTime() - 1);
    for (const call of [
      () => ak.authorize(subject, { costCents: 1, tokenExpiresAt: past }),
      () => ak.authorize(subject, { holdCents: 1, tokenExpiresAt: past }),
      () => ak.reserve(subject, { maxCents: 1, tokenExpiresAt: past }),
    ]) {
      expect(await call()).toMatchObject({ ok: false, error: { code: 'invalid_token', reason: 'expired' } });
    }
    expect(await ak.getSubject('idp|stale')).toMatchObject({ budget: { usedCents: 0 } });
    const later = new Date(clock.now().getTime() + 60_000);
    expect(await ak.authorize(subject, { costCents: 1, tokenExpiresAt: later })).toMatchObject({
      ok: true,
      principal: { expiresAt: later },
    });
    await expect(
      ak.authorize(subject, { costCents: 1, tokenExpiresAt: new Date(Number.NaN) }),
    ).rejects.toThrow(/tokenExpiresAt/);
  });

  it('fails closed: a store that cannot answer is unavailable, never a pass', async () => {
    const down = new Store({ pool: { query: () => Promise.reject(new Error('connection refused')) } });
    const result = await down.authorize('ak_0123', { costCents: 1 });
    expect(result).toMatchObject({ ok: false, error: { code: 'unavailable', retryAfterSec: 1 } });
  });
});
