import {
  namespacedSubject,
  tokenCacheKey,
  VerificationCache,
  type Verifier,
  type VerifyResult,
} from '@agentkey/core';
import { decodeCompact, unverifiedIssuer } from './compact.js';
import { refuseHeader } from './header.js';
import { keySource } from './key-source.js';
import { type OidcVerifierOptions, resolveOptions } from './options.js';
import { fromVerifyError, invalidToken } from './outcome.js';
import { verifyJwt } from './verify-jwt.js';

/**
 * A verifier for JWT access tokens of one OIDC/OAuth issuer (RFC 9068, RFC 8725). Options are
 * checked here and throw `AgentKeyInputError`; verification returns results and never throws.
 */
export function oidcVerifier(options: OidcVerifierOptions): Verifier {
  const config = resolveOptions(options);
  const keys = keySource({
    issuer: config.issuer,
    jwksUri: config.jwksUri,
    fetch: config.fetch ?? ((input, init) => fetch(input, init)),
    timeoutMs: config.httpTimeoutMs,
    allowInsecure: config.allowInsecureIssuer,
    jwks: { timeoutMs: config.httpTimeoutMs, cooldownMs: config.jwksCooldownMs, fetch: config.fetch },
  });
  const headerPolicy = { algorithms: config.algorithms, typ: config.typ };
  const cache = new VerificationCache(config.cacheMaxEntries);

  /** A signature check is most of a request's CPU: reuse a verified answer until min(TTL, exp). */
  async function verify(credential: string): Promise<VerifyResult> {
    if (config.cacheTtlMs === 0) return verifyUncached(credential);
    const key = tokenCacheKey(credential);
    const nowMs = config.now().getTime();
    const cached = cache.get(key, nowMs);
    if (cached) return cached;
    const result = await verifyUncached(credential);
    if (result.ok && result.identity.expiresAt) {
      cache.set(key, result, Math.min(nowMs + config.cacheTtlMs, result.identity.expiresAt.getTime()), nowMs);
    }
    return result;
  }

  async function verifyUncached(credential: string): Promise<VerifyResult> {
    // Cheap refusals first: nothing here costs I/O, so foreign or broken tokens never reach the IdP.
    const decoded = decodeCompact(credential);
    if (!decoded.ok) return invalidToken(decoded.description, 'malformed');
    const refusal = refuseHeader(decoded.jwt.header, headerPolicy);
    if (refusal) return invalidToken(refusal);
    if (decoded.jwt.payload.iss !== config.issuer)
      return invalidToken('The token was issued by another issuer.');

    const lookup = await keys();
    if (!lookup.ok) return lookup.refusal;
    let payload: Awaited<ReturnType<typeof verifyJwt>>;
    try {
      payload = await verifyJwt(credential, lookup.getKey, {
        algorithms: config.algorithms,
        issuer: config.issuer,
        audience: config.audience,
        requiredClaims: ['exp'],
        clockTolerance: config.clockToleranceSec,
        currentDate: config.now(),
      });
    } catch (error) {
      return fromVerifyError(error);
    }

    const mapped = config.mapIdentity(payload);
    if (!mapped.ok) return invalidToken(mapped.description);
    return {
      ok: true,
      identity: {
        subject: namespacedSubject(config.subjectNamespace, mapped.id),
        scopes: mapped.scopes,
        expiresAt: typeof payload.exp === 'number' ? new Date(payload.exp * 1000) : null,
        ...(mapped.accountId !== undefined ? { accountId: mapped.accountId } : {}),
        ...(mapped.delegatedBy !== undefined ? { delegatedBy: mapped.delegatedBy } : {}),
        claims: payload,
      },
    };
  }

  return {
    id: config.id,
    issuer: config.issuer,
    subjectNamespace: config.subjectNamespace,
    ...(config.firstSeen ? { firstSeen: config.firstSeen } : {}),
    accepts: (credential) => unverifiedIssuer(credential) === config.issuer,
    verify,
    forget: (subject) => cache.forget(subject),
  } satisfies Verifier;
}
