import type { AgentKey } from '@agentkey/core';
import { BACKENDS, manualClock, openStore, type TestDb } from '@agentkey/test-support/db.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const DAY = 86_400_000;

/**
 * validate of a pooled key answers for its pool root too, as every charge does: a 0.2.0 app gates
 * with validate and bills with trackUsage afterwards, so a child validate passed while its pool was
 * spent would be served for free. Each case validates twice: the first call takes the writing
 * statement (touch: last_used_at is unset), the second the read-only one (peek).
 */
describe.each(BACKENDS)('validate of a pooled key reads its pool root (%s)', (backend) => {
  let db: TestDb;
  let ak: AgentKey;
  const clock = manualClock();
  let n = 0;
  beforeAll(async () => {
    ({ db, ak } = await openStore(backend, { now: clock.now }));
  });
  afterAll(() => db.close());

  const pool = async (rootCents: number | null, childCents: number | null = null) => {
    const accountId = `acct_${++n}`;
    const root = await ak.create({ accountId, budgetCents: rootCents, budgetPeriod: 'day' });
    const child = await ak.create({ accountId, budgetCents: childCents, poolParentId: root.id });
    return { root, child };
  };
  const twice = async (key: string) => {
    const first = await ak.validate(key);
    const second = await ak.validate(key);
    expect(second).toEqual(first);
    return first;
  };
  const sql = (text: string, params: unknown[]) => db.pool.query(text, params);

  it('a revoked or vanished root revokes the child, as charges answer', async () => {
    const { root, child } = await pool(100);
    await ak.revoke(root.id);
    expect(await twice(child.key)).toEqual({ valid: false, reason: 'revoked' });
    expect(await ak.trackUsage(child.key, { costCents: 1 })).toEqual({
      success: false,
      reason: 'invalid_key',
    });
    expect(await ak.authorize(child.key)).toMatchObject({ ok: false, error: { reason: 'revoked' } });

    const other = await pool(100);
    await sql(`UPDATE ${db.table} SET pool_parent_id = 2147483647 WHERE id = $1`, [other.child.id]);
    expect(await twice(other.child.key)).toEqual({ valid: false, reason: 'revoked' });
    expect(await ak.authorize(other.child.key)).toMatchObject({ ok: false, error: { reason: 'revoked' } });
  });

  it('an expired root expires the child; revocation still comes first, as in 0.2.0', async () => {
    const { root, child } = await pool(100);
    const past = new Date(clock.now().getTime() - 60_000);
    await sql(`UPDATE ${db.table} SET expires_at = $2 WHERE id = $1`, [root.id, past]);
    expect(await twice(child.key)).toEqual({ valid: false, reason: 'expired' });
    expect(await ak.authorize(child.key)).toMatchObject({ ok: false, error: { reason: 'expired' } });
    await ak.revoke(root.id);
    expect(await twice(child.key)).toEqual({ valid: false, reason: 'revoked' });
  });

  it('a spent root spends the child until its period rolls, even one whose own row was never read', async () => {
    const { root, child } = await pool(100, 80);
    expect((await ak.trackUsage(root.key, { costCents: 100 })).success).toBe(true);
    expect(await twice(child.key)).toEqual({ valid: false, reason: 'budget_exceeded' });
    expect((await ak.trackUsage(child.key, { costCents: 1 })).success).toBe(false);
    // The root's reset has passed but nothing rolled its row: in effect it has used nothing.
    clock.advance(DAY + 1);
    const fresh = await twice(child.key);
    expect(fresh).toMatchObject({ valid: true, budgetCents: 80, budgetRemainingCents: 80 });
  });

  it('budgetRemainingCents is never above what the pool has left (used and held)', async () => {
    const capped = await pool(100, 50);
    const uncapped = await ak.create({ accountId: `acct_${n}`, poolParentId: capped.root.id });
    expect((await ak.trackUsage(capped.root.key, { costCents: 70 })).success).toBe(true);
    expect(await twice(capped.child.key)).toMatchObject({ budgetRemainingCents: 30, budgetUsedCents: 0 });
    expect((await ak.reserve(uncapped.key, { maxCents: 10 })).ok).toBe(true);
    expect(await twice(uncapped.key)).toMatchObject({ budgetCents: null, budgetRemainingCents: 20 });
    expect(await twice(capped.child.key)).toMatchObject({ budgetRemainingCents: 20 });
    // An unlimited pool leaves the child's own numbers as they are.
    const free = await pool(null, 40);
    expect(await twice(free.child.key)).toMatchObject({ valid: true, budgetRemainingCents: 40 });
    const none = await pool(null);
    expect(await twice(none.child.key)).toMatchObject({ valid: true, budgetRemainingCents: null });
  });

  it('validateBySubject of a pooled subject answers for its root too', async () => {
    const { root } = await pool(100);
    await ak.ensureSubject('oidc|pooled', { accountId: `acct_${n}` });
    await sql(`UPDATE ${db.table} SET pool_parent_id = $1 WHERE external_subject = 'oidc|pooled'`, [root.id]);
    expect(await ak.validateBySubject('oidc|pooled')).toMatchObject({ valid: true });
    expect((await ak.trackUsage(root.key, { costCents: 100 })).success).toBe(true);
    expect(await ak.validateBySubject('oidc|pooled')).toEqual({ valid: false, reason: 'budget_exceeded' });
    await ak.revoke(root.id);
    expect(await ak.validateBySubject('oidc|pooled')).toEqual({ valid: false, reason: 'revoked' });
  });
});
