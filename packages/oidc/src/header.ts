import type { JsonObject } from './compact.js';

/**
 * Headers that point at or embed keys. Keys come only from the issuer's configured or discovered
 * JWKS (RFC 8725 §3.10); jose ignores these headers anyway, and a token carrying one is refused
 * outright so an attacker's key URL is never even considered.
 */
export const KEY_REFERENCE_HEADERS = ['jku', 'x5u', 'jwk', 'x5c'] as const;

/** jose's normalisation: `at+jwt` and `application/at+jwt` are the same media type. */
export function normalizeTyp(typ: string): string {
  const lower = typ.toLowerCase();
  return lower.includes('/') ? lower : `application/${lower}`;
}

export interface HeaderPolicy {
  algorithms: readonly string[];
  /** Normalised accepted `typ` values; null accepts any (or none). */
  typ: readonly string[] | null;
}

/** A reason to refuse the token from its (unverified) header alone, or null. */
export function refuseHeader(header: JsonObject, policy: HeaderPolicy): string | null {
  if (typeof header.alg !== 'string' || !policy.algorithms.includes(header.alg)) {
    return 'The token is signed with an algorithm this verifier does not allow.';
  }
  for (const name of KEY_REFERENCE_HEADERS) {
    if (name in header) return `The token carries a "${name}" header; keys come only from the issuer's JWKS.`;
  }
  if (policy.typ && (typeof header.typ !== 'string' || !policy.typ.includes(normalizeTyp(header.typ)))) {
    return `The token's "typ" header is missing or not one of: ${policy.typ.join(', ')}.`;
  }
  return null;
}
