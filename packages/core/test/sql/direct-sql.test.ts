import type { AgentKey } from '@agentkey/core';
import { BACKENDS, openStore, type TestDb } from '@agentkey/test-support/db.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Users read and write the keys table with SQL; what they write must count at once.
describe.each(BACKENDS)('direct SQL edits are honoured at once (%s)', (backend) => {
  let db: TestDb;
  let ak: AgentKey;
  beforeAll(async () => {
    ({ db, ak } = await openStore(backend));
  });
  afterAll(() => db.close());
  const sql = (text: string, params: unknown[]) => db.pool.query(text.replaceAll('{T}', db.table), params);

  it('expires_at set in the past expires the key for validate, trackUsage and authorize', async () => {
    const { key, id } = await ak.create({ accountId: 'a' });
    await sql(`UPDATE {T} SET expires_at = now() - interval '1 second' WHERE id = $1`, [id]);
    expect(await ak.validate(key)).toEqual({ valid: false, reason: 'expired' });
    expect(await ak.trackUsage(key, { costCents: 1 })).toEqual({ success: false, reason: 'invalid_key' });
    expect(await ak.authorize(key)).toMatchObject({
      ok: false,
      error: { code: 'invalid_token', reason: 'expired' },
    });
  });

  it('budget_reset_at set in the past resets a spent budget inside the charging statement', async () => {
    const { key, id } = await ak.create({ accountId: 'a', budgetCents: 5, budgetPeriod: 'day' });
    expect(await ak.trackUsage(key, { costCents: 5 })).toMatchObject({ success: true });
    expect(await ak.trackUsage(key, { costCents: 1 })).toEqual({ success: false, reason: 'budget_exceeded' });
    await sql(`UPDATE {T} SET budget_reset_at = now() - interval '3 days 1 hour' WHERE id = $1`, [id]);
    expect(await ak.trackUsage(key, { costCents: 2 })).toEqual({
      success: true,
      budgetUsedCents: 2,
      budgetRemainingCents: 3,
    });
    const row = await sql('SELECT budget_used_cents, budget_reset_at FROM {T} WHERE id = $1', [id]);
    expect(row.rows[0].budget_used_cents).toBe(2);
    expect(new Date(row.rows[0].budget_reset_at).getTime()).toBeGreaterThan(Date.now());
    expect(new Date(row.rows[0].budget_reset_at).getTime()).toBeLessThanOrEqual(Date.now() + 86_400_000);
  });

  it('validate resets an elapsed period and reports it', async () => {
    const { key, id } = await ak.create({ accountId: 'a', budgetCents: 5, budgetPeriod: 'month' });
    await ak.trackUsage(key, { costCents: 5 });
    await sql(`UPDATE {T} SET budget_reset_at = now() - interval '1 minute' WHERE id = $1`, [id]);
    const v = await ak.validate(key);
    expect(v).toMatchObject({ valid: true, budgetUsedCents: 0, budgetRemainingCents: 5 });
    const row = await sql('SELECT budget_used_cents FROM {T} WHERE id = $1', [id]);
    expect(row.rows[0].budget_used_cents).toBe(0);
  });

  it('a nullable name reads as default', async () => {
    await sql('ALTER TABLE {T} ALTER COLUMN name DROP NOT NULL', []);
    const { key, id } = await ak.create({ accountId: 'a', name: 'x' });
    await sql('UPDATE {T} SET name = NULL WHERE id = $1', [id]);
    expect(await ak.validate(key)).toMatchObject({ valid: true, name: 'default' });
  });

  it('budget_used_cents written by hand wins over the exact micros', async () => {
    const { key, id } = await ak.create({ accountId: 'a', budgetCents: 10 });
    expect(await ak.authorize(key, { costCents: 2.5 })).toMatchObject({
      ok: true,
      budget: { usedCents: 2.5 },
    });
    await sql('UPDATE {T} SET budget_used_cents = 9 WHERE id = $1', [id]);
    expect(await ak.authorize(key, { costCents: 1.5 })).toMatchObject({
      ok: false,
      error: { code: 'budget_exceeded' },
    });
    expect(await ak.authorize(key, { costCents: 1 })).toMatchObject({ ok: true, budget: { usedCents: 10 } });
    await sql('UPDATE {T} SET budget_used_cents = 0 WHERE id = $1', [id]);
    expect(await ak.validate(key)).toMatchObject({ budgetUsedCents: 0, budgetRemainingCents: 10 });
  });

  it('revoked_at and scopes written by hand apply to the next request', async () => {
    const { key, id } = await ak.create({ accountId: 'a', scopes: ['read'] });
    await sql(`UPDATE {T} SET scopes = ARRAY['write'] WHERE id = $1`, [id]);
    expect(await ak.authorize(key, { scope: 'read' })).toMatchObject({
      error: { code: 'insufficient_scope' },
    });
    await sql('UPDATE {T} SET revoked_at = now() WHERE id = $1', [id]);
    expect(await ak.authorize(key, { scope: 'write' })).toMatchObject({ error: { reason: 'revoked' } });
  });
});
