import {
  AgentKeyInputError,
  checkFirstSeenPolicy,
  checkSubjectNamespace,
  type FirstSeenPolicy,
} from '@agentkey/core';
import { ASYMMETRIC_ALGORITHMS, checkAlgorithms } from './algorithms.js';
import { normalizeTyp } from './header.js';
import { type ClaimNames, claimMapper, type MapIdentity } from './identity.js';

export interface OidcVerifierOptions extends ClaimNames {
  /** Exact issuer, matched character for character against `iss` and the discovery document. */
  issuer: string;
  /** `aud` must contain this (or one of these). */
  audience: string | readonly string[];
  /** Allowlist; default every asymmetric algorithm. HS* throws. */
  algorithms?: readonly string[];
  /** Skips discovery. */
  jwksUri?: string;
  /** Required `typ` header (default `at+jwt`, RFC 9068); a list accepts any of them; false accepts any. */
  typ?: string | readonly string[] | false;
  /** Skew allowed on exp/nbf, in seconds: default 30, at most 60. */
  clockToleranceSec?: number;
  /** Replaces subjectClaim/scopeClaim/accountClaim/delegatedByClaim with your own mapping. */
  mapIdentity?: MapIdentity;
  /** Subject namespace, default the issuer: subjects are `<namespace>|<id>`, so it may not contain `|`. */
  subjectNamespace?: string;
  firstSeen?: FirstSeenPolicy;
  /** Default `oidc:<issuer>`. */
  id?: string;
  /** Used for discovery and JWKS fetches; default the global fetch. */
  fetch?: typeof fetch;
  /** Timeout of each discovery or JWKS request, default 5000 ms. */
  httpTimeoutMs?: number;
  /** Minimum time between JWKS refetches triggered by an unknown `kid`, default 30000 ms (jose's cooldown). */
  jwksCooldownMs?: number;
  /**
   * How long a verified token's answer is reused, in ms: default 30000, at most 300000, 0 disables.
   * Never past the token's `exp`. Signature checks are the costly part of a request (RS256 through
   * WebCrypto); a subject's row is still read, so revoking it takes effect at once.
   */
  cacheTtlMs?: number;
  /** Bound on cached answers, default 10000; the oldest goes first. */
  cacheMaxEntries?: number;
  /** Clock for exp/nbf checks; default the system clock. */
  now?: () => Date;
  /** Tests only: accept an http:// issuer and JWKS. */
  allowInsecureIssuer?: boolean;
}

export interface OidcConfig {
  id: string;
  issuer: string;
  audience: string | string[];
  algorithms: string[];
  jwksUri: URL | null;
  typ: string[] | null;
  clockToleranceSec: number;
  mapIdentity: MapIdentity;
  subjectNamespace: string;
  firstSeen: FirstSeenPolicy | undefined;
  fetch: typeof fetch | undefined;
  httpTimeoutMs: number;
  jwksCooldownMs: number;
  cacheTtlMs: number;
  cacheMaxEntries: number;
  now: () => Date;
  allowInsecureIssuer: boolean;
}

export const MAX_CLOCK_TOLERANCE_SEC = 60;

/** Checks every option once, at construction; a bad one throws naming it. */
export function resolveOptions(options: OidcVerifierOptions): OidcConfig {
  if (!options || typeof options !== 'object') throw new AgentKeyInputError('oidcVerifier needs options');
  const allowInsecureIssuer = options.allowInsecureIssuer === true;
  const issuer = checkIssuer(options.issuer, allowInsecureIssuer);
  const claimOptions = (['subjectClaim', 'scopeClaim', 'accountClaim', 'delegatedByClaim'] as const).filter(
    (name) => options[name] !== undefined,
  );
  if (options.mapIdentity && claimOptions.length > 0) {
    throw new AgentKeyInputError(
      `mapIdentity replaces ${claimOptions.join(', ')}: pass one or the other`,
      'mapIdentity',
    );
  }
  return {
    id: options.id ?? `oidc:${issuer}`,
    issuer,
    audience: checkAudience(options.audience),
    algorithms: checkAlgorithms(options.algorithms ?? ASYMMETRIC_ALGORITHMS),
    jwksUri: options.jwksUri === undefined ? null : checkUrl(options.jwksUri, 'jwksUri', allowInsecureIssuer),
    typ: checkTyp(options.typ),
    clockToleranceSec: checkTolerance(options.clockToleranceSec),
    mapIdentity: options.mapIdentity ?? claimMapper(options),
    subjectNamespace: checkNamespace(options.subjectNamespace, issuer),
    firstSeen: options.firstSeen === undefined ? undefined : checkFirstSeenPolicy(options.firstSeen),
    fetch: options.fetch,
    httpTimeoutMs: checkMs(options.httpTimeoutMs ?? 5000, 'httpTimeoutMs', 1),
    jwksCooldownMs: checkMs(options.jwksCooldownMs ?? 30_000, 'jwksCooldownMs', 0),
    cacheTtlMs: checkMs(options.cacheTtlMs ?? 30_000, 'cacheTtlMs', 0, 300_000),
    cacheMaxEntries: checkMs(options.cacheMaxEntries ?? 10_000, 'cacheMaxEntries', 1),
    now: options.now ?? (() => new Date()),
    allowInsecureIssuer,
  };
}

function checkIssuer(issuer: unknown, allowInsecure: boolean): string {
  const url = checkUrl(issuer, 'issuer', allowInsecure);
  if (url.search || url.hash)
    throw new AgentKeyInputError('issuer must not have a query or fragment', 'issuer');
  return issuer as string;
}

/**
 * The issuer by default. An issuer URL with a raw `|` is not a valid RFC 3986 URI (`|` must be sent
 * as %7C) but URL parsers accept it: such an issuer still verifies, under a namespace of its own.
 */
function checkNamespace(namespace: unknown, issuer: string): string {
  if (namespace === undefined && issuer.includes('|')) {
    throw new AgentKeyInputError(
      "the issuer contains '|', which separates a subject's namespace from its id: set subjectNamespace",
      'subjectNamespace',
    );
  }
  return checkSubjectNamespace(namespace ?? issuer, 'subjectNamespace');
}

function checkUrl(value: unknown, option: string, allowInsecure: boolean): URL {
  let url: URL;
  try {
    url = new URL(nonEmpty(value, option));
  } catch (error) {
    if (error instanceof AgentKeyInputError) throw error;
    throw new AgentKeyInputError(`${option} must be an absolute URL`, option);
  }
  if (url.protocol !== 'https:' && !(allowInsecure && url.protocol === 'http:')) {
    throw new AgentKeyInputError(
      `${option} must be an https:// URL (http:// only with allowInsecureIssuer, for tests)`,
      option,
    );
  }
  return url;
}

function checkAudience(audience: unknown): string | string[] {
  if (typeof audience === 'string' && audience !== '') return audience;
  if (
    Array.isArray(audience) &&
    audience.length > 0 &&
    audience.every((a) => typeof a === 'string' && a !== '')
  ) {
    return [...audience];
  }
  throw new AgentKeyInputError('audience must be a non-empty string or list of strings', 'audience');
}

function checkTyp(typ: OidcVerifierOptions['typ']): string[] | null {
  if (typ === false) return null;
  const list = typ === undefined ? ['at+jwt'] : typeof typ === 'string' ? [typ] : typ;
  if (!Array.isArray(list) || list.length === 0 || !list.every((t) => typeof t === 'string' && t !== '')) {
    throw new AgentKeyInputError('typ must be a media type, a non-empty list of them, or false', 'typ');
  }
  return [...new Set(list.map(normalizeTyp))];
}

function checkTolerance(seconds: number | undefined): number {
  if (seconds === undefined) return 30;
  if (
    typeof seconds !== 'number' ||
    !Number.isFinite(seconds) ||
    seconds < 0 ||
    seconds > MAX_CLOCK_TOLERANCE_SEC
  ) {
    throw new AgentKeyInputError(
      `clockToleranceSec must be between 0 and ${MAX_CLOCK_TOLERANCE_SEC} seconds`,
      'clockToleranceSec',
    );
  }
  return seconds;
}

function checkMs(value: number, option: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new AgentKeyInputError(`${option} must be an integer from ${min} to ${max} (milliseconds)`, option);
  }
  return value;
}

function nonEmpty(value: unknown, option: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new AgentKeyInputError(`${option} must be a non-empty string`, option);
  }
  return value;
}
