import type { ValidateResult } from '@agentkey/core';
import { describe, expect, it } from 'vitest';
import { attenuate, type ChildRequest } from '../src/attenuation.js';

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

describe('attenuate', () => {
  it('grants a subset of scopes, the whole set when none are asked for', () => {
    expect(attenuate(caller(), child({ scopes: ['a'] }), now)).toEqual({ ok: true, scopes: ['a'] });
    expect(attenuate(caller(), child(), now)).toEqual({ ok: true, scopes: ['a', 'b'] });
    expect(attenuate(caller(), child({ scopes: ['a', 'c'] }), now)).toMatchObject({ ok: false });
    expect(attenuate(caller({ scopes: ['admin'] }), child({ scopes: ['c'] }), now)).toEqual({
      ok: true,
      scopes: ['c'],
    });
  });

  it('compares the budget with the cap, not what remains', () => {
    const spent = caller({ budgetCents: 100, budgetUsedCents: 90, budgetRemainingCents: 10 });
    expect(attenuate(spent, child({ budgetCents: 100 }), now).ok).toBe(true);
    expect(attenuate(spent, child({ budgetCents: 101 }), now).ok).toBe(false);
  });

  it('orders budget periods by how often they renew', () => {
    const weekly = caller({ budgetCents: 100, budgetPeriod: 'week' });
    expect(attenuate(weekly, child({ budgetCents: 1, budgetPeriod: 'week' }), now).ok).toBe(true);
    expect(attenuate(weekly, child({ budgetCents: 1, budgetPeriod: 'month' }), now).ok).toBe(true);
    expect(attenuate(weekly, child({ budgetCents: 1 }), now).ok).toBe(true);
    expect(attenuate(weekly, child({ budgetCents: 1, budgetPeriod: 'day' }), now).ok).toBe(false);
  });

  it('lets a child end exactly when its caller does, not a millisecond later', () => {
    const expiring = caller({ expiresAt: new Date(now.getTime() + 3_600_000).toISOString() });
    expect(attenuate(expiring, child({ expiresInMs: 3_600_000 }), now).ok).toBe(true);
    expect(attenuate(expiring, child({ expiresInMs: 3_600_001 }), now).ok).toBe(false);
  });
});
