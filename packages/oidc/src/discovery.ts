import type { VerifyResult } from '@agentkey/core';
import { unavailable } from './outcome.js';

export interface DiscoveryOptions {
  fetch: typeof fetch;
  timeoutMs: number;
  allowInsecure: boolean;
}

export type Discovered = { ok: true; jwksUri: URL } | { ok: false; refusal: VerifyResult };

/**
 * Where to look, in order: OpenID Connect Discovery (path appended), then RFC 8414 (well-known
 * inserted before the path) and the appended form some servers use. Identical for path-less issuers.
 */
export function discoveryUrls(issuer: string): string[] {
  const { origin, pathname } = new URL(issuer);
  const path = pathname.replace(/\/$/, '');
  return [
    ...new Set([
      `${origin}${path}/.well-known/openid-configuration`,
      `${origin}/.well-known/oauth-authorization-server${path}`,
      `${origin}${path}/.well-known/oauth-authorization-server`,
    ]),
  ];
}

/** Finds the issuer's `jwks_uri`. Never throws: every failure is a refusal (fail closed). */
export async function discoverJwksUri(issuer: string, options: DiscoveryOptions): Promise<Discovered> {
  for (const url of discoveryUrls(issuer)) {
    let response: Response;
    try {
      response = await options.fetch(url, {
        headers: { accept: 'application/json' },
        redirect: 'manual',
        signal: AbortSignal.timeout(options.timeoutMs),
      });
    } catch (cause) {
      const why = (cause as Error)?.name === 'TimeoutError' ? 'timed out' : 'network error';
      return refuse(`OIDC discovery for ${issuer} failed (${why}).`, cause);
    }
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => {});
      continue;
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch (cause) {
      return refuse(`OIDC discovery for ${issuer} answered with something other than JSON.`, cause);
    }
    return checkDocument(issuer, body, options.allowInsecure);
  }
  return refuse(`OIDC discovery for ${issuer} found no discovery document.`);
}

function checkDocument(issuer: string, body: unknown, allowInsecure: boolean): Discovered {
  const doc = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  if (doc.issuer !== issuer) {
    // The IdP or our configuration is wrong; trusting its keys for our issuer would be a guess.
    return refuse(
      `OIDC discovery misconfiguration: the discovery document names issuer ${JSON.stringify(doc.issuer)}, ` +
        `not the configured ${JSON.stringify(issuer)}.`,
    );
  }
  let jwksUri: URL;
  try {
    jwksUri = new URL(String(doc.jwks_uri));
  } catch {
    return refuse(`OIDC discovery for ${issuer} gave no valid jwks_uri.`);
  }
  if (jwksUri.protocol !== 'https:' && !(allowInsecure && jwksUri.protocol === 'http:')) {
    return refuse(`OIDC discovery for ${issuer} gave a jwks_uri that is not https.`);
  }
  return { ok: true, jwksUri };
}

function refuse(description: string, cause?: unknown): Discovered {
  return { ok: false, refusal: unavailable(description, cause) };
}
