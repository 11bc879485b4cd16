import type { AuthError } from '@agentkey/core';
import { isClerkAPIResponseError, MachineTokenVerificationError } from '@clerk/backend/errors';
import { TimeoutError } from './timeout.js';

/** Seconds a caller should wait after a transient failure, when Clerk names none. */
export const TRANSIENT_RETRY_SEC = 2;
/** Seconds to wait when our own configuration is wrong: a retry will not help soon. */
export const MISCONFIGURED_RETRY_SEC = 30;

export interface MappedError {
  error: AuthError;
  /** Set when the server, not the caller, is at fault: log it loudly. Never holds a token or secret. */
  misconfiguration?: string;
}

/** What a failed `m2m.verify` means for the caller. */
export function mapClerkError(err: unknown): MappedError {
  if (isClerkAPIResponseError(err)) return mapApiError(err);
  if (err instanceof MachineTokenVerificationError) return mapJwtError(err);
  if (err instanceof TimeoutError) return { error: unavailable('Clerk did not answer in time.', err) };
  return { error: unavailable('Clerk could not verify the token.', err) };
}

function mapApiError(err: {
  status?: number;
  retryAfter?: number;
  clerkTraceId?: string;
  errors: ReadonlyArray<{ code: string }>;
}): MappedError {
  const { status } = err;
  if (status === 404) {
    return { error: { code: 'invalid_token', reason: 'unknown', description: 'Unknown Clerk M2M token.' } };
  }
  if (status === 400 || status === 422) {
    return {
      error: { code: 'invalid_token', reason: 'malformed', description: 'Malformed Clerk M2M token.' },
    };
  }
  if (status === 401 || status === 403) {
    const code = err.errors[0]?.code ?? 'none';
    const trace = err.clerkTraceId ? `, trace ${err.clerkTraceId}` : '';
    return {
      error: unavailable('Token verification is misconfigured.', err, MISCONFIGURED_RETRY_SEC),
      misconfiguration:
        `[agentkey/clerk] Clerk refused this server's key (HTTP ${status}, code ${code}${trace}) ` +
        'while verifying an M2M token: check machineSecretKey / secretKey. Every Clerk caller gets 503 until fixed.',
    };
  }
  // No status: a network failure or an answer the SDK could not read. 429, 5xx and anything unknown:
  // Clerk cannot vouch for the token right now, which is not the caller's fault.
  const retry = status === 429 || (status !== undefined && status >= 500) ? err.retryAfter : undefined;
  return { error: unavailable('Clerk is unavailable.', err, retry) };
}

/** Messages @clerk/backend gives when it could not get keys, as opposed to keys refusing the token. */
const KEY_LOADING_FAILURE =
  /Failed to resolve JWK|Failed to load JWKS|Error loading Clerk JWKS|did not contain any signing keys|fetch failed/i;

function mapJwtError(err: MachineTokenVerificationError): MappedError {
  if (err.code === 'token-invalid') {
    return {
      error: { code: 'invalid_token', reason: 'malformed', description: 'Malformed Clerk M2M token.' },
    };
  }
  if (/Failed to resolve JWK/i.test(err.message)) {
    return {
      error: unavailable('Token verification is misconfigured.', err, MISCONFIGURED_RETRY_SEC),
      misconfiguration:
        '[agentkey/clerk] A JWT-format M2M token arrived but neither jwtKey nor secretKey is configured: ' +
        'JWT tokens cannot be verified. Every such caller gets 503 until fixed.',
    };
  }
  if (err.code !== 'token-verification-failed' || KEY_LOADING_FAILURE.test(err.message)) {
    return { error: unavailable('Clerk signing keys are unavailable.', err) };
  }
  const expired = /expired/i.test(err.message);
  return {
    error: {
      code: 'invalid_token',
      reason: expired ? 'expired' : 'unknown',
      description: expired ? 'Clerk M2M token has expired.' : 'Clerk M2M token failed verification.',
    },
  };
}

function unavailable(description: string, cause: unknown, retryAfterSec?: number): AuthError {
  return {
    code: 'unavailable',
    description,
    retryAfterSec: retryAfterSec && retryAfterSec > 0 ? retryAfterSec : TRANSIENT_RETRY_SEC,
    cause,
  };
}
