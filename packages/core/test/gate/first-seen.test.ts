import {
  AgentKey,
  AgentKeyInputError,
  checkFirstSeenPolicy,
  type FirstSeenPolicy,
  type Verifier,
} from '@agentkey/core';
import { describe, expect, it } from 'vitest';
import { readFirstSeenPolicy } from '../../src/gate/first-seen.js';

// Construction runs no query: a pool that refuses proves none of this touches the database.
const pool = { query: () => Promise.reject(new Error('never called')) };
const ak = new AgentKey({ pool, validScopes: ['read', 'write'] });
const verifier = (firstSeen: unknown): Verifier =>
  ({ id: 'ext', accepts: () => false, verify: async () => ({ ok: false }), firstSeen }) as never;

function refusal(run: () => unknown): AgentKeyInputError {
  try {
    run();
  } catch (error) {
    if (error instanceof AgentKeyInputError) return error;
    throw error;
  }
  throw new Error('expected an AgentKeyInputError');
}

describe('first-sight policies are checked at construction', () => {
  it.each([
    [{}, 'firstSeen.scopes'],
    [{ budgetCents: 500 }, 'firstSeen.scopes'],
    [{ scopes: ['read'] }, 'firstSeen.budgetCents'],
    [{ scopes: undefined, budgetCents: null }, 'firstSeen.scopes'],
  ])('%j is refused: a policy must say what it grants (%s)', (policy, field) => {
    for (const run of [
      () => checkFirstSeenPolicy(policy),
      () => ak.gate({ firstSeen: policy as FirstSeenPolicy }),
      () => ak.gate({ verifiers: [verifier(policy)] }),
    ]) {
      const error = refusal(run);
      expect(error.field).toBe(field);
      expect(error.message).toContain(`${field} is required`);
    }
    expect(refusal(() => ak.gate({ verifiers: [verifier(policy)] })).message).toMatch(/^verifier ext: /);
  });

  it.each([
    [{ scopes: 'read', budgetCents: 1 }, 'firstSeen.scopes'],
    [{ scopes: ['write', 'admin'], budgetCents: 1 }, 'firstSeen.scopes'],
    [{ scopes: null, budgetCents: -1 }, 'firstSeen.budgetCents'],
    [{ scopes: null, budgetCents: 1, budgetPeriod: 'year' }, 'firstSeen.budgetPeriod'],
    [{ scopes: null, budgetCents: 1, expiresIn: '0m' }, 'firstSeen.expiresIn'],
    [{ scopes: null, budgetCents: 1, expiresIn: '0d' }, 'firstSeen.expiresIn'],
    [{ scopes: null, budgetCents: 1, expiresIn: '7days' }, 'firstSeen.expiresIn'],
    [{ scopes: null, budgetCents: 1, accountId: '' }, 'firstSeen.accountId'],
    [{ scopes: null, budgetCents: 1, name: 'a\u0000' }, 'firstSeen.name'],
    [{ scopes: null, budgetCents: 1, budget: 5 }, 'firstSeen.budget'],
    [{ scopes: null, budgetCents: 1, rateLimit: { requests: 0 } }, 'firstSeen.rateLimit'],
    [{ scopes: null, budgetCents: 1, rateLimit: {} }, 'firstSeen.rateLimit'],
    [{ scopes: null, budgetCents: 1, rateLimit: { requests: 5, burst: 2 } }, 'firstSeen.rateLimit'],
    [null, 'firstSeen'],
    [[], 'firstSeen'],
  ])('%j is refused, naming %s', (policy, field) => {
    const error = refusal(() => ak.gate({ firstSeen: policy as never }));
    expect(error.field).toBe(field);
    expect(error.message).toContain(field);
  });

  it('a zero expiry is refused with a clear message: the identity would be expired at birth', () => {
    expect(() => ak.gate({ firstSeen: { scopes: null, budgetCents: 1, expiresIn: '0m' } })).toThrow(
      'firstSeen.expiresIn: expiresIn must be longer than zero, got 0m',
    );
  });

  it('explicit nulls say "unlimited", and a full policy passes unchanged (as a frozen copy)', () => {
    const unlimited = { scopes: null, budgetCents: null };
    const checked = checkFirstSeenPolicy(unlimited);
    expect(checked).toEqual(unlimited);
    expect(checked).not.toBe(unlimited);
    expect(Object.isFrozen(checked)).toBe(true);
    const full: FirstSeenPolicy = {
      scopes: ['read'],
      budgetCents: 500,
      budgetPeriod: 'month',
      expiresIn: '30d',
      accountId: (identity) => identity.accountId,
      name: 'agent',
    };
    expect(() => ak.gate({ firstSeen: full, verifiers: [verifier(unlimited)] })).not.toThrow();
  });

  it('a rate limit is kept as checked, a copy the caller can no longer change', () => {
    const limit = { requests: 5 };
    const checked = checkFirstSeenPolicy({ scopes: null, budgetCents: null, rateLimit: limit });
    limit.requests = 5000;
    expect(checked.rateLimit).toEqual({ requests: 5, cents: null, windowSec: 60 });
  });

  it('the type requires scopes and budgetCents', () => {
    // @ts-expect-error scopes and budgetCents are required
    const missing: FirstSeenPolicy = { budgetPeriod: 'day' };
    expect(() => checkFirstSeenPolicy(missing)).toThrow(/firstSeen\.scopes is required/);
  });

  it('the check behind them returns its refusal: nothing is thrown until configuration throws it', () => {
    const refused = readFirstSeenPolicy({ scopes: ['read'], budgetCents: -1 });
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.error).toBeInstanceOf(AgentKeyInputError);
    expect(!refused.ok && refused.error.field).toBe('firstSeen.budgetCents');
    const passed = readFirstSeenPolicy({ scopes: ['read'], budgetCents: 1 }, 'firstSeen', new Set(['read']));
    expect(passed).toEqual({ ok: true, policy: { scopes: ['read'], budgetCents: 1 } });
    expect(readFirstSeenPolicy({ scopes: ['write'], budgetCents: 1 }, 'p', new Set(['read']))).toMatchObject({
      ok: false,
      error: { field: 'p.scopes' },
    });
  });
});
