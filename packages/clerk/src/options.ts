import { createPublicKey } from 'node:crypto';
import type { FirstSeenPolicy } from '@agentkey/core';
import { AgentKeyInputError, checkFirstSeenPolicy, isScope } from '@agentkey/core';
import type { M2MToken } from '@clerk/backend';

/** The one part of a `ClerkClient` this verifier uses; pass your own `createClerkClient(...)` result. */
export interface ClerkM2MClient {
  m2m: { verify(params: { token: string }): Promise<M2MToken> };
}

/**
 * Clerk's `scopes` on an M2M token are the ids of the machines the caller may talk to, not
 * capabilities. A scope map turns them into agentkey scopes: a record keyed by machine id (the union
 * of the entries for the token's machine ids), or a function of the verified token. Return null from
 * the function to say nothing about scopes.
 */
export type ScopeMap =
  | Readonly<Record<string, readonly string[]>>
  | ((token: M2MToken) => readonly string[] | null);

export interface ClerkVerifierOptions {
  /** An existing client; otherwise one is created from the keys below. */
  clerkClient?: ClerkM2MClient;
  /** Clerk secret key (`sk_…`): verifies opaque tokens when no machine key is set; fetches JWKS. */
  secretKey?: string;
  /** Machine secret key: preferred by Clerk for `POST /m2m_tokens/verify`. */
  machineSecretKey?: string;
  /** Backend API base URL; default `https://api.clerk.com`. */
  apiUrl?: string;
  /** PEM public key (RSA 2048, RS256) to verify JWT-format M2M tokens with no network. */
  jwtKey?: string;
  scopeMap?: ScopeMap;
  /** How long a Clerk answer for an opaque token is reused; default 10 000, at most 30 000, 0 disables. */
  cacheTtlMs?: number;
  /** Most cached answers kept; the oldest go first. Default 10 000. */
  cacheMaxEntries?: number;
  /** Longest wait for Clerk before answering `unavailable`; default 5 000. */
  timeoutMs?: number;
  firstSeen?: FirstSeenPolicy;
  /** Subject namespace: subjects are `<namespace>|mch_…`. Default `clerk`. */
  namespace?: string;
  /** Verifier id, unique within one gate. Default `clerk`. */
  id?: string;
  now?: () => Date;
}

export interface ResolvedOptions {
  client: ClerkM2MClient | null;
  clientOptions: { secretKey?: string; machineSecretKey?: string; apiUrl?: string; jwtKey?: string };
  scopeMap: ScopeMap | null;
  cacheTtlMs: number;
  cacheMaxEntries: number;
  timeoutMs: number;
  firstSeen: FirstSeenPolicy | undefined;
  namespace: string;
  id: string;
  now: () => Date;
}

export const MAX_CACHE_TTL_MS = 30_000;

/** Checks every option once, at construction, naming the one at fault. */
export function resolveOptions(options: ClerkVerifierOptions): ResolvedOptions {
  const { clerkClient, secretKey, machineSecretKey, apiUrl, jwtKey } = options;
  for (const [field, value] of Object.entries({ secretKey, machineSecretKey, apiUrl, jwtKey })) {
    if (value !== undefined && (typeof value !== 'string' || value.trim() === '')) {
      fail(`${field} must be a non-empty string`, field);
    }
  }
  if (clerkClient !== undefined) {
    if (typeof clerkClient?.m2m?.verify !== 'function')
      fail('clerkClient must be a Clerk client', 'clerkClient');
    const extra = Object.entries({ secretKey, machineSecretKey, apiUrl, jwtKey }).find(([, v]) => v);
    if (extra) fail(`pass ${extra[0]} to your own createClerkClient(), not next to clerkClient`, extra[0]);
  } else if (!secretKey && !machineSecretKey && !jwtKey) {
    fail('pass clerkClient, machineSecretKey, secretKey or jwtKey', 'machineSecretKey');
  }
  if (apiUrl !== undefined && !URL.canParse(apiUrl)) fail('apiUrl must be an absolute URL', 'apiUrl');
  if (jwtKey !== undefined) checkJwtKey(jwtKey);
  const clientOptions = Object.fromEntries(
    Object.entries({ secretKey, machineSecretKey, apiUrl, jwtKey }).filter(([, v]) => v !== undefined),
  );
  return {
    client: clerkClient ?? null,
    clientOptions,
    scopeMap: checkScopeMap(options.scopeMap),
    cacheTtlMs: integer(options.cacheTtlMs, 10_000, 0, MAX_CACHE_TTL_MS, 'cacheTtlMs'),
    cacheMaxEntries: integer(options.cacheMaxEntries, 10_000, 1, 1_000_000, 'cacheMaxEntries'),
    timeoutMs: integer(options.timeoutMs, 5_000, 1, 60_000, 'timeoutMs'),
    firstSeen: checkPolicy(options.firstSeen),
    namespace: name(options.namespace, 'clerk', 'namespace'),
    id: name(options.id, 'clerk', 'id'),
    now: checkNow(options.now),
  };
}

function fail(message: string, field: string): never {
  throw new AgentKeyInputError(`clerkVerifier: ${message}`, field);
}

function integer(value: unknown, fallback: number, min: number, max: number, field: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(`${field} must be an integer from ${min} to ${max}`, field);
  }
  return value;
}

function name(value: unknown, fallback: string, field: string): string {
  if (value === undefined) return fallback;
  // `|` separates namespace from id in a subject: allowing it here would let two issuers collide.
  if (typeof value !== 'string' || !/^[\x21-\x7b\x7d\x7e]{1,200}$/.test(value)) {
    fail(`${field} must be 1-200 printable ASCII characters without spaces or '|'`, field);
  }
  return value;
}

function checkPolicy(policy: unknown): FirstSeenPolicy | undefined {
  if (policy === undefined) return undefined;
  try {
    return checkFirstSeenPolicy(policy);
  } catch (error) {
    if (!(error instanceof AgentKeyInputError)) throw error;
    fail(error.message, error.field ?? 'firstSeen');
  }
}

function checkNow(now: unknown): () => Date {
  if (now === undefined) return () => new Date();
  if (typeof now !== 'function') fail('now must be a function returning a Date', 'now');
  return now as () => Date;
}

function checkScopeMap(scopeMap: unknown): ScopeMap | null {
  if (scopeMap === undefined || scopeMap === null) return null;
  if (typeof scopeMap === 'function') return scopeMap as ScopeMap;
  if (typeof scopeMap !== 'object' || Array.isArray(scopeMap)) {
    fail('scopeMap must be a record of machine id to scopes, or a function', 'scopeMap');
  }
  for (const [machine, scopes] of Object.entries(scopeMap)) {
    if (!Array.isArray(scopes) || !scopes.every(isScope)) {
      fail(`scopeMap['${machine}'] must be an array of scopes`, 'scopeMap');
    }
  }
  return scopeMap as ScopeMap;
}

/**
 * @clerk/backend turns the PEM into a JWK by stripping a fixed RSA-2048 prefix: any other key would
 * silently refuse every token, so refuse it here instead.
 */
function checkJwtKey(pem: string): void {
  let key: ReturnType<typeof createPublicKey>;
  try {
    key = createPublicKey(pem);
  } catch {
    fail('jwtKey must be a PEM public key (-----BEGIN PUBLIC KEY-----)', 'jwtKey');
  }
  const details = key.asymmetricKeyDetails;
  if (
    !pem.includes('-----BEGIN PUBLIC KEY-----') ||
    key.asymmetricKeyType !== 'rsa' ||
    details?.modulusLength !== 2048 ||
    details.publicExponent !== 65537n
  ) {
    fail('jwtKey must be an RSA 2048-bit public key in SPKI PEM, as the Clerk dashboard shows it', 'jwtKey');
  }
}
