import type { AgentKey } from '@agentkey/core';
import { BACKENDS, openStore, type TestDb } from '@agentkey/test-support/db.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// agentkey 0.2.0's public contract, method by method, on PGlite and on a PostgreSQL server.
describe.each(BACKENDS)('0.2.0 contract (%s)', (backend) => {
  let db: TestDb;
  let ak: AgentKey;
  beforeAll(async () => {
    ({ db, ak } = await openStore(backend, { validScopes: ['read', 'write'] }));
  });
  afterAll(() => db.close());

  it('create returns a prefixed 48-hex key, a numeric id and nulls for unset options', async () => {
    const created = await ak.create({ accountId: 'acct_create' });
    expect(created.key).toMatch(/^ak_[0-9a-f]{48}$/);
    expect(typeof created.id).toBe('number');
    expect(created).toMatchObject({ scopes: null, budgetCents: null, budgetPeriod: null, expiresAt: null });
    const stored = await db.pool.query(`SELECT key_hash, key_prefix FROM ${db.table} WHERE id = $1`, [
      created.id,
    ]);
    expect(stored.rows[0].key_prefix).toBe(created.key.slice(0, 11));
    expect(stored.rows[0].key_hash).not.toContain(created.key.slice(3));
  });

  it('create echoes scopes, budget, period and an ISO expiry', async () => {
    const created = await ak.create({
      accountId: 7,
      scopes: ['read'],
      budgetCents: 500,
      budgetPeriod: 'month',
      expiresIn: '2h',
    });
    expect(created).toMatchObject({ scopes: ['read'], budgetCents: 500, budgetPeriod: 'month' });
    const ms = new Date(created.expiresAt!).getTime() - Date.now();
    expect(ms).toBeGreaterThan(2 * 3600_000 - 60_000);
    expect(ms).toBeLessThanOrEqual(2 * 3600_000);
  });

  it('create and ensureSubject refuse scopes outside validScopes with 0.2.0 message, admin included', async () => {
    await expect(ak.create({ accountId: 'a', scopes: ['read', 'delete', 'drop'] })).rejects.toThrow(
      'Invalid scopes: delete, drop',
    );
    await expect(ak.create({ accountId: 'a', scopes: ['admin'] })).rejects.toThrow('Invalid scopes: admin');
    await expect(ak.create({ accountId: 'a', scopes: ['read', 'admin'] })).rejects.toThrow(
      'Invalid scopes: admin',
    );
    await expect(ak.ensureSubject('idp|admin-seeker', { scopes: ['admin'] })).rejects.toThrow(
      'Invalid scopes: admin',
    );
    expect(await ak.validateBySubject('idp|admin-seeker')).toEqual({ valid: false, reason: 'invalid' });
  });

  it('create refuses unknown periods and malformed durations, zero duration allowed', async () => {
    await expect(ak.create({ accountId: 'a', budgetPeriod: 'year' as never })).rejects.toThrow(
      'Invalid budget period: year',
    );
    for (const bad of ['7days', '-1h', '1.5h', '', 'h', '10', '1w']) {
      await expect(ak.create({ accountId: 'a', expiresIn: bad })).rejects.toThrow(`Invalid duration: ${bad}`);
    }
    const zero = await ak.create({ accountId: 'a', expiresIn: '0h' });
    expect(await ak.validate(zero.key)).toEqual({ valid: false, reason: 'expired' });
    const minutes = await ak.create({ accountId: 'a', expiresIn: '5m' });
    const months = await ak.create({ accountId: 'a', expiresIn: '1mo' });
    expect(new Date(minutes.expiresAt!).getTime() - Date.now()).toBeLessThanOrEqual(5 * 60_000);
    expect(new Date(months.expiresAt!).getTime() - Date.now()).toBeGreaterThan(29 * 86_400_000);
  });

  it('validate returns the full 0.2.0 shape', async () => {
    const created = await ak.create({
      accountId: 'acct_v',
      userId: 'user_1',
      scopes: ['read'],
      budgetCents: 100,
      budgetPeriod: 'day',
      delegatedBy: 'boss',
      name: 'bot',
    });
    const result = await ak.validate(created.key);
    expect(result).toEqual({
      valid: true,
      id: created.id,
      accountId: 'acct_v',
      userId: 'user_1',
      scopes: ['read'],
      budgetCents: 100,
      budgetUsedCents: 0,
      budgetRemainingCents: 100,
      budgetPeriod: 'day',
      budgetResetAt: expect.any(String),
      expiresAt: null,
      delegatedBy: 'boss',
      name: 'bot',
    });
  });

  it('validate reasons in order: invalid, revoked, expired, budget_exceeded', async () => {
    expect(await ak.validate('ak_nope')).toEqual({ valid: false, reason: 'invalid' });
    const revoked = await ak.create({ accountId: 'a', expiresIn: '0m', budgetCents: 0 });
    await ak.revoke(revoked.id);
    expect(await ak.validate(revoked.key)).toEqual({ valid: false, reason: 'revoked' });
    const expired = await ak.create({ accountId: 'a', expiresIn: '0m', budgetCents: 0 });
    expect(await ak.validate(expired.key)).toEqual({ valid: false, reason: 'expired' });
    const spent = await ak.create({ accountId: 'a', budgetCents: 0 });
    expect(await ak.validate(spent.key)).toEqual({ valid: false, reason: 'budget_exceeded' });
  });

  it('trackUsage charges, rounds fractional costs up, and refuses past the cap recording nothing', async () => {
    const { key, id } = await ak.create({ accountId: 'a', budgetCents: 10 });
    expect(await ak.trackUsage(key, { costCents: 3 })).toEqual({
      success: true,
      budgetUsedCents: 3,
      budgetRemainingCents: 7,
    });
    expect(await ak.trackUsage(key, { costCents: 0.2 })).toMatchObject({ budgetUsedCents: 4 });
    expect(await ak.trackUsage(key, { costCents: 7 })).toEqual({ success: false, reason: 'budget_exceeded' });
    expect((await ak.validate(key)) as { budgetUsedCents: number }).toMatchObject({ budgetUsedCents: 4 });
    expect(await ak.trackUsage(key, { costCents: 6 })).toEqual({
      success: true,
      budgetUsedCents: 10,
      budgetRemainingCents: 0,
    });
    expect(await ak.validate(key)).toEqual({ valid: false, reason: 'budget_exceeded' });
    const row = await db.pool.query(`SELECT budget_used_cents FROM ${db.table} WHERE id = $1`, [id]);
    expect(row.rows[0].budget_used_cents).toBe(10);
  });

  it('trackUsage: invalid_cost, free charges, unknown keys, unlimited keys', async () => {
    const { key } = await ak.create({ accountId: 'a' });
    expect(await ak.trackUsage(key, { costCents: Number.NaN })).toEqual({
      success: false,
      reason: 'invalid_cost',
    });
    expect(await ak.trackUsage(key, { costCents: 0 })).toEqual({ success: true });
    expect(await ak.trackUsage(key, { costCents: -5 })).toEqual({ success: true });
    expect(await ak.trackUsage('ak_unknown', { costCents: 1 })).toEqual({
      success: false,
      reason: 'invalid_key',
    });
    expect(await ak.trackUsage(key, { costCents: 25 })).toEqual({
      success: true,
      budgetUsedCents: 25,
      budgetRemainingCents: null,
    });
  });

  it('trackUsage honours expiry and revocation (0.2.0 ignored expiry)', async () => {
    const expired = await ak.create({ accountId: 'a', expiresIn: '0m' });
    expect(await ak.trackUsage(expired.key, { costCents: 1 })).toEqual({
      success: false,
      reason: 'invalid_key',
    });
    const revoked = await ak.create({ accountId: 'a' });
    await ak.revoke(revoked.id);
    expect(await ak.trackUsage(revoked.key, { costCents: 1 })).toEqual({
      success: false,
      reason: 'invalid_key',
    });
  });

  it('hasScope: null scopes, listed scope, admin', () => {
    expect(ak.hasScope({ scopes: null }, 'x')).toBe(true);
    expect(ak.hasScope({ scopes: ['read'] }, 'read')).toBe(true);
    expect(ak.hasScope({ scopes: ['read'] }, 'write')).toBe(false);
    expect(ak.hasScope({ scopes: ['admin'] }, 'write')).toBe(true);
  });

  it('revoke: true once, false after; account-scoped revoke touches only that account', async () => {
    const mine = await ak.create({ accountId: 'mine' });
    expect(await ak.revoke(mine.id, 'theirs')).toBe(false);
    expect(await ak.validate(mine.key)).toMatchObject({ valid: true });
    expect(await ak.revoke(mine.id, 'mine')).toBe(true);
    expect(await ak.revoke(mine.id)).toBe(false);
    expect(await ak.revoke(999_999)).toBe(false);
  });

  it('ensureSubject creates once and never overwrites or resets usage', async () => {
    await ak.ensureSubject('clerk|mch_1', { budgetCents: 50, scopes: ['read'] });
    expect(await ak.trackUsageBySubject('clerk|mch_1', { costCents: 20 })).toMatchObject({
      budgetUsedCents: 20,
    });
    await ak.ensureSubject('clerk|mch_1', { budgetCents: 5000, scopes: ['write'] });
    const v = await ak.validateBySubject('clerk|mch_1');
    expect(v).toMatchObject({
      valid: true,
      accountId: 'clerk|mch_1',
      budgetCents: 50,
      budgetUsedCents: 20,
      scopes: ['read'],
    });
    await expect(ak.ensureSubject('clerk|mch_2', { scopes: ['nope'] })).rejects.toThrow(
      'Invalid scopes: nope',
    );
    expect(await ak.validateBySubject('clerk|mch_2')).toEqual({ valid: false, reason: 'invalid' });
    expect(await ak.trackUsageBySubject('clerk|mch_2', { costCents: 1 })).toEqual({
      success: false,
      reason: 'invalid_key',
    });
  });

  it('subject rows cannot be reached as native keys', async () => {
    await ak.ensureSubject('oidc|x');
    const row = await db.pool.query(`SELECT key_hash FROM ${db.table} WHERE external_subject = 'oidc|x'`);
    expect(await ak.validate(row.rows[0].key_hash)).toEqual({ valid: false, reason: 'invalid' });
  });

  it('admin calls: read, list by account, update and revoke by subject, never the secret', async () => {
    const a = await ak.create({ accountId: 'acct_list', name: 'one' });
    await ak.create({ accountId: 'acct_list', name: 'two' });
    await ak.ensureSubject('idp|s1', { accountId: 'acct_list' });
    const listed = await ak.listKeys('acct_list');
    expect(listed.map((k) => [k.kind, k.name])).toEqual([
      ['key', 'one'],
      ['key', 'two'],
      ['subject', 'default'],
    ]);
    expect(JSON.stringify(listed)).not.toMatch(/key_hash|[0-9a-f]{48}/);
    const info = await ak.getKey(a.id);
    expect(info).toMatchObject({
      id: a.id,
      kind: 'key',
      keyPrefix: a.key.slice(0, 11),
      accountId: 'acct_list',
    });
    expect(await ak.getKey(123_456_789)).toBeNull();

    const updated = await ak.updateSubject('idp|s1', {
      scopes: ['read'],
      budgetCents: 9,
      budgetPeriod: 'week',
      expiresIn: '1d',
    });
    expect(updated).toMatchObject({ scopes: ['read'], budget: { limitCents: 9, period: 'week' } });
    expect(updated!.budget.resetAt!.getTime() - Date.now()).toBeGreaterThan(6 * 86_400_000);
    expect(await ak.updateSubject('idp|missing', { budgetCents: 1 })).toBeNull();
    expect(await ak.update(a.id, { expiresAt: new Date(Date.now() - 1000) })).toMatchObject({ id: a.id });
    expect(await ak.validate(a.key)).toEqual({ valid: false, reason: 'expired' });
    expect(await ak.revokeSubject('idp|s1')).toBe(true);
    expect(await ak.revokeSubject('idp|s1')).toBe(false);
    expect(await ak.validateBySubject('idp|s1')).toEqual({ valid: false, reason: 'revoked' });
  });

  it('migrate is idempotent', async () => {
    await ak.migrate();
    await ak.migrate();
    const { key } = await ak.create({ accountId: 'again' });
    expect(await ak.validate(key)).toMatchObject({ valid: true });
  });
});
