import { describe, expect, it } from 'vitest';
import {
  budgetExceeded,
  expiredCredential,
  insufficientScope,
  unknownCredential,
  unprovisioned,
} from '../../src/errors/auth-errors.js';
import { HoldCode, holdRefusal } from '../../src/errors/hold-errors.js';

describe('refusal constructors', () => {
  it('build a fresh object each time: a caller that edits one cannot change the next refusal', () => {
    const first = expiredCredential();
    (first as { description: string }).description = 'edited';
    expect(expiredCredential()).toEqual({
      code: 'invalid_token',
      reason: 'expired',
      description: 'The credential has expired.',
    });
    expect(unknownCredential()).not.toBe(unknownCredential());
  });

  it("a pool's refusal is the key's cap to the caller, in the pool's words; retryAfterSec only when given", () => {
    expect(budgetExceeded('pool', 3)).toEqual({
      code: 'budget_exceeded',
      cap: 'key',
      description: "The parent key's pooled budget would be exceeded.",
      retryAfterSec: 3,
    });
    expect(budgetExceeded('account')).toEqual({
      code: 'budget_exceeded',
      cap: 'account',
      description: "The account's budget would be exceeded.",
    });
  });

  it('name the scope printably, and keep a cause only when there is one', () => {
    expect(insufficientScope('a\u0000b')).toMatchObject({ scope: 'a\u0000b' });
    expect(insufficientScope('a\u0000b').description).not.toContain('\u0000');
    expect(Object.keys(unprovisioned())).toEqual(['code', 'description']);
    expect(unprovisioned('x', 'why')).toMatchObject({ code: 'unprovisioned', cause: 'why' });
  });
});

describe('hold refusals', () => {
  it.each([
    ['no_hold', HoldCode.notFound],
    ['hold_expired', HoldCode.expired],
    ['idempotency_conflict', HoldCode.idempotencyConflict],
    ['hold_settled', HoldCode.closed],
  ])('%s is %s', (outcome, code) => {
    expect(holdRefusal(outcome).code).toBe(code);
  });

  it('a closed hold says how it was closed', () => {
    expect(holdRefusal('hold_released').description).toBe('The hold is already released.');
  });
});
