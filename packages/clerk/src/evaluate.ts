import type { AuthError, ExternalIdentity, VerifyResult } from '@agentkey/core';
import { namespacedSubject } from '@agentkey/core';
import type { M2MToken } from '@clerk/backend';
import type { ScopeMap } from './options.js';
import { MACHINE_PREFIX } from './routing.js';
import { mapScopes } from './scope-map.js';

export type TokenFormat = 'opaque' | 'jwt';

export interface Evaluation {
  result: VerifyResult;
  /** Set when the server, not the caller, is at fault: log it loudly. */
  misconfiguration?: string;
}

interface EvaluateContext {
  namespace: string;
  scopeMap: ScopeMap | null;
  now: Date;
  format: TokenFormat;
}

/**
 * Clerk's answer → our result. A 200 from Clerk can still describe a revoked or expired token,
 * so every field that can refuse is checked here.
 */
export function evaluateToken(token: M2MToken, ctx: EvaluateContext): Evaluation {
  if (typeof token !== 'object' || token === null || typeof token.id !== 'string') {
    return refuse({
      code: 'unavailable',
      description: 'Clerk gave an answer that is not an M2M token.',
      retryAfterSec: 2,
    });
  }
  if (typeof token.subject !== 'string' || !token.subject.startsWith(MACHINE_PREFIX)) {
    return refuse(invalid('malformed', 'Clerk token is not issued to a machine.'));
  }
  if (token.revoked === true) return refuse(invalid('revoked', 'Clerk M2M token has been revoked.'));
  const expiration = typeof token.expiration === 'number' ? token.expiration : null;
  if (token.expired === true || (expiration !== null && expiration <= ctx.now.getTime())) {
    return refuse(invalid('expired', 'Clerk M2M token has expired.'));
  }
  const scopes = mapScopes(ctx.scopeMap, token);
  if (!scopes.ok) {
    return {
      ...refuse({
        code: 'unavailable',
        description: 'Token verification is misconfigured.',
        retryAfterSec: 30,
      }),
      misconfiguration: `[agentkey/clerk] ${scopes.problem}: every Clerk caller gets 503 until fixed.`,
    };
  }
  // Frozen: one result may be shared by concurrent callers and the cache.
  const identity: ExternalIdentity = Object.freeze({
    subject: namespacedSubject(ctx.namespace, token.subject),
    scopes: scopes.scopes,
    expiresAt: expiration === null ? null : new Date(expiration),
    claims: Object.freeze({
      tokenId: token.id,
      machineId: token.subject,
      machineScopes: Array.isArray(token.scopes) ? Object.freeze([...token.scopes]) : [],
      claims: token.claims ?? null,
      format: ctx.format,
    }),
  });
  return { result: Object.freeze({ ok: true as const, identity }) };
}

function invalid(reason: NonNullable<AuthError['reason']>, description: string): AuthError {
  return { code: 'invalid_token', reason, description };
}

function refuse(error: AuthError): Evaluation {
  return { result: { ok: false, error } };
}
