import {
  type AuthError,
  tokenCacheKey,
  VerificationCache,
  type Verifier,
  type VerifyResult,
} from '@agentkey/core';
import { createClerkClient } from '@clerk/backend';
import { type Evaluation, evaluateToken, type TokenFormat } from './evaluate.js';
import { mapClerkError } from './map-error.js';
import { type ClerkVerifierOptions, resolveOptions } from './options.js';
import { isClerkJwt, isMachineJwt, isOpaqueM2M, peekJwt } from './routing.js';
import { withTimeout } from './timeout.js';

/** One loud line per minute is enough to be noticed without flooding the logs under load. */
const ALARM_INTERVAL_MS = 60_000;

/**
 * Verifies Clerk M2M tokens: opaque `mt_…` tokens through Clerk's Backend API (answers cached for
 * `cacheTtlMs`, concurrent checks of one token share one request), JWT-format tokens locally with
 * `jwtKey` (else with keys fetched using `secretKey`).
 */
export function clerkVerifier(options: ClerkVerifierOptions = {}) {
  const opts = resolveOptions(options);
  const client = opts.client ?? createClerkClient(opts.clientOptions);
  const cache = new VerificationCache(opts.cacheMaxEntries);
  const inFlight = new Map<string, Promise<VerifyResult>>();
  let lastAlarm = Number.NEGATIVE_INFINITY;

  function alarm(message: string | undefined): void {
    if (message === undefined) return;
    const now = opts.now().getTime();
    if (now - lastAlarm < ALARM_INTERVAL_MS) return;
    lastAlarm = now;
    console.error(message);
  }

  /** Asks Clerk once; `answered` is true when Clerk itself described the token (a 200). */
  async function ask(token: string, format: TokenFormat): Promise<Evaluation & { answered: boolean }> {
    let answer: Awaited<ReturnType<typeof client.m2m.verify>>;
    try {
      answer = await withTimeout(client.m2m.verify({ token }), opts.timeoutMs);
    } catch (err) {
      const mapped = mapClerkError(err);
      return { result: refused(mapped.error), misconfiguration: mapped.misconfiguration, answered: false };
    }
    const evaluation = evaluateToken(answer, {
      namespace: opts.namespace,
      scopeMap: opts.scopeMap,
      now: opts.now(),
      format,
    });
    return { ...evaluation, answered: true };
  }

  async function verifyOpaque(token: string): Promise<VerifyResult> {
    const key = tokenCacheKey(token);
    const cached = cache.get(key, opts.now().getTime());
    if (cached) return cached;
    let pending = inFlight.get(key);
    if (!pending) {
      pending = askAndRemember(token, key).finally(() => inFlight.delete(key));
      inFlight.set(key, pending);
    }
    return pending;
  }

  async function askAndRemember(token: string, key: string): Promise<VerifyResult> {
    const started = opts.now().getTime();
    const { result, misconfiguration, answered } = await ask(token, 'opaque');
    alarm(misconfiguration);
    // Only Clerk's own description of the token is reused: a valid token never past its expiry, and
    // a revoked, expired or non-machine token (which can never turn valid) for the TTL. Clerk's 4xx
    // are not cached (a token minted a moment ago may not be visible yet), nor is `unavailable`.
    if (answered && opts.cacheTtlMs > 0 && (result.ok || result.error.code === 'invalid_token')) {
      const expiry = (result.ok && result.identity.expiresAt?.getTime()) || Number.POSITIVE_INFINITY;
      cache.set(key, result, Math.min(started + opts.cacheTtlMs, expiry), opts.now().getTime());
    }
    return result;
  }

  async function verifyJwt(token: string): Promise<VerifyResult> {
    const { result, misconfiguration } = await ask(token, 'jwt');
    alarm(misconfiguration);
    return result;
  }

  return {
    id: opts.id,
    subjectNamespace: opts.namespace,
    forget: (subject: string | null) => cache.forget(subject),
    ...(opts.firstSeen ? { firstSeen: opts.firstSeen } : {}),

    accepts(credential: string): boolean {
      if (typeof credential !== 'string') return false;
      if (isOpaqueM2M(credential)) return true;
      const jwt = peekJwt(credential);
      return jwt !== null && isClerkJwt(jwt);
    },

    async verify(credential: string): Promise<VerifyResult> {
      if (typeof credential !== 'string') return refused(malformed('No Clerk M2M token.'));
      if (isOpaqueM2M(credential)) return verifyOpaque(credential);
      const jwt = peekJwt(credential);
      if (jwt === null || !isClerkJwt(jwt)) return refused(malformed('Not a Clerk M2M token.'));
      // @clerk/backend would post any other JWT to the opaque-token endpoint: refuse it here instead.
      if (!isMachineJwt(jwt)) return refused(malformed('Clerk JWT is not issued to a machine.'));
      return verifyJwt(credential);
    },
  } satisfies Verifier;
}

function malformed(description: string): AuthError {
  return { code: 'invalid_token', reason: 'malformed', description };
}

function refused(error: AuthError): VerifyResult {
  return { ok: false, error };
}
