import type { ValidateResult } from '@agentkey/core';
import { describe, expect, it } from 'vitest';
import { attenuate, type CallerBudget, type ChildRequest } from '../src/attenuation.js';

const now = new Date('2026-03-15T12:00:00Z');
const caller = (over: Partial<ValidateResult> = {}): ValidateResult => ({
  valid: true,
  id: 1,
  accountId: 'acct',
  userId: null,
  scopes: ['a', 'b'],
  budgetCents: null,
  budgetUsedCents: 0,
  budgetRemainingCents: null,
  budgetPeriod: null,
  budgetResetAt: null,
  expiresAt: null,
  delegatedBy: null,
  name: 'default',
  ...over,
});
const child = (over: Partial<ChildRequest> = {}): ChildRequest => ({
  scopes: undefined,
  budgetCents: undefined,
  budgetPeriod: undefined,
  expiresInMs: undefined,
  ...over,
});

const own: CallerBudget = { poolParentId: null, pool: null };

describe('attenuate', () => {
  it('grants a subset of scopes, the whole set when none are asked for', () => {
    expect(attenuate(caller(), own, child({ scopes: ['a'] }), now)).toEqual({
      ok: true,
      scopes: ['a'],
      pooled: false,
    });
    expect(attenuate(caller(), own, child(), now)).toEqual({ ok: true, scopes: ['a', 'b'], pooled: false });
    expect(attenuate(caller(), own, child({ scopes: ['a', 'c'] }), now)).toMatchObject({ ok: false });
    expect(attenuate(caller({ scopes: ['admin'] }), own, child({ scopes: ['c'] }), now)).toEqual({
      ok: true,
      scopes: ['c'],
      pooled: false,
    });
  });

  it('compares the budget with the cap here (what remains is checked against the store)', () => {
    const spent = caller({ budgetCents: 100, budgetUsedCents: 90, budgetRemainingCents: 10 });
    expect(attenuate(spent, own, child({ budgetCents: 100 }), now).ok).toBe(true);
    expect(attenuate(spent, own, child({ budgetCents: 101 }), now).ok).toBe(false);
  });

  it('orders budget periods by how often they renew', () => {
    const weekly = caller({ budgetCents: 100, budgetPeriod: 'week' });
    expect(attenuate(weekly, own, child({ budgetCents: 1, budgetPeriod: 'week' }), now).ok).toBe(true);
    expect(attenuate(weekly, own, child({ budgetCents: 1, budgetPeriod: 'month' }), now).ok).toBe(true);
    expect(attenuate(weekly, own, child({ budgetCents: 1 }), now).ok).toBe(true);
    expect(attenuate(weekly, own, child({ budgetCents: 1, budgetPeriod: 'day' }), now).ok).toBe(false);
  });

  it('lets a child end exactly when its caller does, not a millisecond later', () => {
    const expiring = caller({ expiresAt: new Date(now.getTime() + 3_600_000).toISOString() });
    expect(attenuate(expiring, own, child({ expiresInMs: 3_600_000 }), now).ok).toBe(true);
    expect(attenuate(expiring, own, child({ expiresInMs: 3_600_001 }), now).ok).toBe(false);
  });

  it("refuses with 0.2.0's exact strings where 0.2.0 had one", () => {
    expect(attenuate(caller(), own, child({ scopes: ['a', 'c', 'd'] }), now)).toEqual({
      ok: false,
      error: 'Cannot grant scopes you do not have: c, d',
    });
    expect(attenuate(caller({ budgetCents: 100 }), own, child(), now)).toEqual({
      ok: false,
      error: 'Child budget_cents must be set and not exceed your budget of 100',
    });
    const expiring = caller({ expiresAt: new Date(now.getTime() + 60_000).toISOString() });
    expect(attenuate(expiring, own, child(), now)).toEqual({
      ok: false,
      error: "Child key expiry must be set and not exceed your key's expiry",
    });
  });

  it("mints a limited caller's children on its pool, and refuses pool 'own' from it", () => {
    const capped = caller({ budgetCents: 100 });
    expect(attenuate(capped, own, child({ budgetCents: 10 }), now)).toMatchObject({ ok: true, pooled: true });
    expect(attenuate(capped, own, child({ budgetCents: 10, pool: 'own' }), now)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^pool 'own' is not allowed/),
    });
    expect(attenuate(caller(), own, child({ pool: 'own' }), now)).toMatchObject({ ok: true, pooled: false });
    expect(attenuate(caller(), own, child({ pool: 'parent' }), now)).toMatchObject({
      ok: true,
      pooled: true,
    });
  });

  it("holds a pooled caller without a cap of its own to its pool's cap and period", () => {
    const pooled: CallerBudget = { poolParentId: 7, pool: { budgetCents: 50, budgetPeriod: 'month' } };
    expect(attenuate(caller(), pooled, child({ budgetCents: 51 }), now)).toEqual({
      ok: false,
      error: 'Child budget_cents must be set and not exceed your budget of 50',
    });
    expect(attenuate(caller(), pooled, child({ budgetCents: 5, budgetPeriod: 'day' }), now).ok).toBe(false);
    expect(attenuate(caller(), pooled, child({ budgetCents: 50 }), now)).toMatchObject({
      ok: true,
      pooled: true,
    });
    expect(attenuate(caller(), pooled, child({ pool: 'own' }), now).ok).toBe(false);
  });

  it('refuses any mint by a pooled caller with a cap of its own', () => {
    const pooled: CallerBudget = { poolParentId: 7, pool: { budgetCents: 1000, budgetPeriod: null } };
    for (const body of [child({ budgetCents: 1 }), child({ pool: 'parent' })]) {
      expect(attenuate(caller({ budgetCents: 100 }), pooled, body, now)).toMatchObject({
        ok: false,
        error: expect.stringMatching(/^This key shares its parent's budget and has a cap of its own/),
      });
    }
  });
});
