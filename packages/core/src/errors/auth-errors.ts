import { printable } from '../input/duration.js';
import type { AuthorizeResult } from '../types.js';
import { AuthCode, type AuthError, type RateLimitState } from './errors.js';

// One constructor per refusal: each description is written once, and every path that refuses
// for the same reason says the same words. Each call builds a fresh object (callers may extend it).

type TokenReason = NonNullable<AuthError['reason']>;

export function invalidRequest(description: string): AuthError {
  return { code: AuthCode.invalidRequest, description };
}

export function invalidToken(reason: TokenReason, description: string): AuthError {
  return { code: AuthCode.invalidToken, reason, description };
}

export const malformedCredential = (): AuthError => invalidToken('malformed', 'The credential is malformed.');
export const unknownCredential = (): AuthError => invalidToken('unknown', 'Unknown credential.');
export const revokedCredential = (): AuthError => invalidToken('revoked', 'The credential was revoked.');
export const expiredCredential = (): AuthError => invalidToken('expired', 'The credential has expired.');

export function insufficientScope(scope: string): AuthError {
  return {
    code: AuthCode.insufficientScope,
    scope,
    description: `The credential lacks the scope ${printable(scope)}.`,
  };
}

const NO_ACCESS = 'This identity is verified but has no access here. Ask an administrator to provision it.';

/** A verified identity with no row here, and none that first sight may create. */
export function unprovisioned(description = NO_ACCESS, cause?: unknown): AuthError {
  return { code: AuthCode.unprovisioned, description, ...(cause === undefined ? {} : { cause }) };
}

const OVER: Readonly<Record<'key' | 'pool' | 'account', string>> = {
  key: 'The budget would be exceeded.',
  pool: "The parent key's pooled budget would be exceeded.",
  account: "The account's budget would be exceeded.",
};

/** A cap that refused; a pool's refusal is the key's to the caller. `retryAfterSec` for periodic caps. */
export function budgetExceeded(cap: 'key' | 'pool' | 'account', retryAfterSec?: number): AuthError {
  return {
    code: AuthCode.budgetExceeded,
    cap: cap === 'account' ? 'account' : 'key',
    description: OVER[cap],
    ...(retryAfterSec === undefined ? {} : { retryAfterSec }),
  };
}

const RATE: Readonly<Record<RateLimitState['policy'], string>> = {
  key: "The credential's rate limit was reached.",
  account: "The account's rate limit was reached.",
};

/**
 * A rate window that refused: retry once it resets. Nothing was charged or held. `never`: the call
 * asked for more than the whole window allows, so no reset lets it pass — no `retryAfterSec` (as a
 * spent fixed budget has none), or a client honouring Retry-After would retry it for ever.
 */
export function rateLimited(state: RateLimitState, never = false): AuthError {
  if (never) {
    const whose = state.policy === 'key' ? "credential's" : "account's";
    return {
      code: AuthCode.rateLimited,
      description: `The call costs more than the ${whose} whole rate window allows (${state.limit} cents per ${state.windowSec} s): it cannot pass in any window.`,
      rateLimit: state,
    };
  }
  return {
    code: AuthCode.rateLimited,
    description: RATE[state.policy],
    retryAfterSec: state.resetSec,
    rateLimit: state,
  };
}

/** Something the gate relies on failed: fail closed, retry after a while; the cause for server logs. */
export function unavailable(description: string, retryAfterSec: number, cause: unknown) {
  return { code: AuthCode.unavailable, description, retryAfterSec, cause } satisfies AuthError;
}

/** The IdP side failed closed: a 503 with a short retry, the cause kept for the reporter. */
export const idpUnavailable = (cause: unknown): AuthError =>
  unavailable('The identity provider cannot answer.', 5, cause);

export function refuse(error: AuthError): AuthorizeResult {
  return { ok: false, error };
}
