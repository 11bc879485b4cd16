/**
 * Stable outcome codes. Expected outcomes are returned as results carrying one of these;
 * only misconfiguration and bad admin input throw.
 */
export const AuthCode = {
  missingCredential: 'missing_credential',
  invalidRequest: 'invalid_request',
  invalidToken: 'invalid_token',
  insufficientScope: 'insufficient_scope',
  unprovisioned: 'unprovisioned',
  budgetExceeded: 'budget_exceeded',
  rateLimited: 'rate_limited',
  unavailable: 'unavailable',
} as const;
export type AuthCode = (typeof AuthCode)[keyof typeof AuthCode];

/** A refusal: what went wrong, in words safe to show the caller (never a secret). */
export interface AuthError {
  code: AuthCode;
  description: string;
  /** For `invalid_token`: why, when the store knows. */
  reason?: 'unknown' | 'revoked' | 'expired' | 'malformed';
  /** For `insufficient_scope`: the scope that was required. */
  scope?: string;
  /** For `budget_exceeded`: which cap refused. */
  cap?: 'key' | 'account';
  /**
   * For `budget_exceeded` on a periodic budget, `rate_limited` and `unavailable`: seconds until a
   * retry may pass.
   */
  retryAfterSec?: number;
  /** For `rate_limited`: the window that refused (key or account, calls or cents), for the headers. */
  rateLimit?: RateLimitState;
  /** For `unavailable`: the underlying failure, for server logs only. */
  cause?: unknown;
}

/**
 * The window a call was judged by: the one that refused it (`rate_limited`), or for a passed call
 * the key's (else its account's). What the HTTP RateLimit headers carry.
 */
export interface RateLimitState {
  policy: 'key' | 'account';
  kind: 'requests' | 'cents';
  /** Calls, or cents, per window. */
  limit: number;
  /** Calls, or cents, left in the current window. */
  remaining: number;
  /** Seconds until the current window ends. */
  resetSec: number;
  windowSec: number;
}

/**
 * Thrown for bad input to admin calls (create, ensureSubject, update…) and bad configuration.
 * Messages name the offending option; agentkey 0.2.0's messages are kept verbatim where it had one.
 */
export class AgentKeyInputError extends Error {
  override readonly name = 'AgentKeyInputError';
  readonly code = 'invalid_input';
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}
