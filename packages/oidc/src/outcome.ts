import type { AuthError, VerifyResult } from '@agentkey/core';
import { errors } from 'jose';

/** Seconds a caller should wait after the IdP could not answer: discovery and JWKS are retried per call. */
export const RETRY_AFTER_SEC = 5;

export function invalidToken(description: string, reason?: AuthError['reason']): VerifyResult {
  return { ok: false, error: { code: 'invalid_token', description, ...(reason ? { reason } : {}) } };
}

export function unavailable(description: string, cause?: unknown): VerifyResult {
  return {
    ok: false,
    error: { code: 'unavailable', description, retryAfterSec: RETRY_AFTER_SEC, ...(cause ? { cause } : {}) },
  };
}

/** Thrown by the key resolver when the JWKS itself cannot be had: the IdP's fault, not the caller's. */
export class KeySourceUnavailable extends Error {
  override readonly name = 'KeySourceUnavailable';
}

/** Maps what jwtVerify threw to a refusal. Descriptions are fixed text: never the token, never a claim value. */
export function fromVerifyError(error: unknown): VerifyResult {
  if (error instanceof KeySourceUnavailable) return unavailable(error.message, error.cause);
  if (!(error instanceof errors.JOSEError)) {
    // Not a verdict on the token (a bad key in the JWKS, a bug): refuse, and say it is our side.
    return unavailable('The token could not be verified right now.', error);
  }
  switch (error.code) {
    case 'ERR_JWT_EXPIRED':
      return invalidToken('The token has expired.', 'expired');
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return invalidToken(claimFailure(error as errors.JWTClaimValidationFailed));
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return invalidToken("No key in the issuer's JWKS matches the token.", 'unknown');
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return invalidToken('The token is signed with an algorithm this verifier does not allow.');
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return invalidToken('The token signature is invalid.');
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return invalidToken('The token is malformed.', 'malformed');
    default:
      return invalidToken('The token could not be verified.');
  }
}

function claimFailure({ claim, reason }: errors.JWTClaimValidationFailed): string {
  if (reason === 'missing') return `The token lacks the required "${claim}" claim.`;
  switch (claim) {
    case 'iss':
      return 'The token was issued by another issuer.';
    case 'aud':
      return 'The token is not meant for this audience.';
    case 'nbf':
      return 'The token is not valid yet.';
    default:
      return `The token's "${claim}" claim is not acceptable.`;
  }
}
