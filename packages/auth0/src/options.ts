import { AgentKeyInputError } from '@agentkey/core';
import type { OidcVerifierOptions } from '@agentkey/oidc';

/** What Auth0 signs access tokens with. HS256 (symmetric APIs) is refused. */
export const AUTH0_ALGORITHMS = ['RS256', 'PS256'] as const;
export type Auth0Algorithm = (typeof AUTH0_ALGORITHMS)[number];

export interface Auth0VerifierOptions
  extends Pick<
    OidcVerifierOptions,
    'audience' | 'firstSeen' | 'clockToleranceSec' | 'fetch' | 'httpTimeoutMs' | 'jwksCooldownMs' | 'now'
  > {
  /** The tenant or custom domain, e.g. `example.eu.auth0.com` (no scheme, no path). */
  domain: string;
  /** Default `['RS256']`; add `'PS256'` when the tenant signs with it. */
  algorithms?: readonly Auth0Algorithm[];
  /** Default `https://{domain}/.well-known/jwks.json`. */
  jwksUri?: string;
  /**
   * Tests only: another issuer than `https://{domain}/`, e.g. `http://127.0.0.1:4000/` for a local
   * stand-in. http:// is accepted only for loopback hosts. The subject namespace stays the domain
   * (or `subjectNamespace`).
   */
  issuer?: string;
  /**
   * Subjects are `{subjectNamespace}|{clientId}`. Default: the domain. A tenant reachable under a
   * custom domain too needs one verifier per domain; give both the same namespace (and list it in
   * the gate's `sharedNamespaces`), so each client keeps one row and one budget. No `|`.
   */
  subjectNamespace?: string;
  /** Default `auth0:{domain}`. */
  id?: string;
}

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/i;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export function checkDomain(domain: unknown): string {
  if (typeof domain !== 'string' || !HOSTNAME.test(domain)) {
    throw new AgentKeyInputError(
      'domain must be a bare host name such as example.eu.auth0.com (no https://, no path)',
      'domain',
    );
  }
  return domain.toLowerCase();
}

/** The issuer, and whether it is the loopback http:// override that tests use. */
export function checkIssuer(issuer: unknown, domain: string): { issuer: string; insecure: boolean } {
  if (issuer === undefined) return { issuer: `https://${domain}/`, insecure: false };
  let url: URL;
  try {
    url = new URL(String(issuer));
  } catch {
    throw new AgentKeyInputError('issuer must be an absolute URL', 'issuer');
  }
  if (url.protocol === 'https:') return { issuer: String(issuer), insecure: false };
  if (url.protocol === 'http:' && LOOPBACK.has(url.hostname))
    return { issuer: String(issuer), insecure: true };
  throw new AgentKeyInputError(
    'issuer must be https://, or http:// on a loopback host (tests only)',
    'issuer',
  );
}
