import type { AuthError } from '@agentkey/core';
import { bearerChallenge } from './challenge.js';
import { rateLimitHeaders } from './rate-headers.js';

/** An HTTP answer to a refused request: what `agentKeyAuth` sends. */
export interface AuthAnswer {
  status: number;
  headers: Record<string, string>;
  body: { error: string; error_description: string };
}

/** Seconds to wait after `unavailable` when the refusal names none. */
export const DEFAULT_RETRY_AFTER_SEC = 5;

/**
 * The answer for a refusal, per RFC 6750 §3 and DESIGN's outcome table. The body carries the
 * code and the description only: never `cause` (that goes to the server's log).
 */
export function answerFor(
  error: AuthError,
  realm: string,
  /** Added to every challenge: `resource_metadata` (RFC 9728 §5.1) when the gate publishes it. */
  extra: Record<string, string> = {},
): AuthAnswer {
  const body = { error: error.code, error_description: error.description };
  const challenge = (params?: Record<string, string>) => ({
    'WWW-Authenticate': bearerChallenge(realm, { ...params, ...extra }),
  });
  switch (error.code) {
    case 'missing_credential':
      // RFC 6750 §3.1: no error attribute when the request carried no credential at all.
      return { status: 401, headers: challenge(), body };
    case 'invalid_request':
      return { status: 400, headers: challenge({ error: 'invalid_request' }), body };
    case 'invalid_token':
      return { status: 401, headers: challenge({ error: 'invalid_token' }), body };
    case 'insufficient_scope':
      return {
        status: 403,
        headers: challenge({ error: 'insufficient_scope', ...(error.scope ? { scope: error.scope } : {}) }),
        body,
      };
    case 'unprovisioned':
      // The token is good; no other token would help, so there is no challenge to answer.
      return { status: 403, headers: {}, body };
    case 'budget_exceeded':
      // Only a periodic budget comes back by itself; a spent fixed budget waits for an administrator.
      return { status: 429, headers: retryAfter(error.retryAfterSec), body };
    case 'rate_limited':
      // A rate window resets by itself: when, and the window's numbers (rate-headers.ts).
      return {
        status: 429,
        headers: {
          ...retryAfter(error.retryAfterSec),
          // No retryAfterSec: the call can pass in no window, so no reset time either.
          ...(error.rateLimit ? rateLimitHeaders(error.rateLimit, error.retryAfterSec !== undefined) : {}),
        },
        body,
      };
    case 'unavailable':
      return {
        status: 503,
        headers: retryAfter(
          Number.isFinite(error.retryAfterSec) ? error.retryAfterSec : DEFAULT_RETRY_AFTER_SEC,
        ),
        body,
      };
    default: {
      const unknown: never = error.code;
      // A code this version does not know: refuse, as a server fault.
      return serverError(`Unexpected refusal ${String(unknown)}.`);
    }
  }
}

/** A fault of this server (a cost function that throws, a bug): nothing was charged. */
export function serverError(description = 'The server could not process this request.'): AuthAnswer {
  return { status: 500, headers: {}, body: { error: 'server_error', error_description: description } };
}

function retryAfter(seconds: number | undefined): Record<string, string> {
  if (seconds === undefined || !Number.isFinite(seconds)) return {};
  return { 'Retry-After': String(Math.max(1, Math.ceil(seconds))) };
}
