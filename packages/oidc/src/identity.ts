import type { JWTPayload } from 'jose';

/** What a token says about its caller, before namespacing. `id` becomes `<namespace>|<id>`. */
export type IdentityMapping =
  | { ok: true; id: string; scopes: readonly string[] | null; accountId?: string; delegatedBy?: string }
  | { ok: false; description: string };

/** Maps a verified payload to the caller. Runs only after signature and claims are verified. */
export type MapIdentity = (claims: Readonly<JWTPayload>) => IdentityMapping;

export type ScopesRead = { ok: true; scopes: string[] | null } | { ok: false; description: string };

/**
 * The union of the named claims, each a space-separated string (`scope`) or a list of strings
 * (`scp`, Auth0's `permissions`). null when none is present: the IdP says nothing. A present claim
 * of another type refuses the token: ignoring it would read as "no limit".
 */
export function readScopes(claims: Readonly<JWTPayload>, names: readonly string[]): ScopesRead {
  let scopes: string[] | null = null;
  for (const name of names) {
    const value = claims[name];
    if (value === undefined) continue;
    let list: string[];
    if (typeof value === 'string') list = value.split(' ').filter(Boolean);
    else if (Array.isArray(value) && value.every((item) => typeof item === 'string')) list = value;
    else
      return {
        ok: false,
        description: `The token's "${name}" claim is neither a string nor a list of strings.`,
      };
    scopes = [...new Set([...(scopes ?? []), ...list])];
  }
  return { ok: true, scopes };
}

export type StringRead = { ok: true; value: string | undefined } | { ok: false; description: string };

/** An optional string claim: absent is fine, present must be a non-empty string. */
export function readString(claims: Readonly<JWTPayload>, name: string): StringRead {
  const value = claims[name];
  if (value === undefined) return { ok: true, value: undefined };
  if (typeof value === 'string' && value !== '') return { ok: true, value };
  return { ok: false, description: `The token's "${name}" claim is not a non-empty string.` };
}

export interface ClaimNames {
  subjectClaim?: string;
  scopeClaim?: string | readonly string[];
  accountClaim?: string;
  delegatedByClaim?: string;
}

export const DEFAULT_SCOPE_CLAIMS = ['scope', 'scp'] as const;

/** The generic mapping: id from `sub` (or subjectClaim), scopes from `scope` ∪ `scp` (or scopeClaim). */
export function claimMapper(names: ClaimNames = {}): MapIdentity {
  const subjectClaim = names.subjectClaim ?? 'sub';
  const scopeClaims =
    typeof names.scopeClaim === 'string' ? [names.scopeClaim] : (names.scopeClaim ?? DEFAULT_SCOPE_CLAIMS);
  return (claims) => {
    const id = readString(claims, subjectClaim);
    if (!id.ok) return id;
    if (id.value === undefined)
      return { ok: false, description: `The token lacks the "${subjectClaim}" claim.` };
    const scopes = readScopes(claims, scopeClaims);
    if (!scopes.ok) return scopes;
    const account = names.accountClaim ? readString(claims, names.accountClaim) : undefined;
    if (account && !account.ok) return account;
    const delegatedBy = names.delegatedByClaim ? readString(claims, names.delegatedByClaim) : undefined;
    if (delegatedBy && !delegatedBy.ok) return delegatedBy;
    return {
      ok: true,
      id: id.value,
      scopes: scopes.scopes,
      ...(account?.value ? { accountId: account.value } : {}),
      ...(delegatedBy?.value ? { delegatedBy: delegatedBy.value } : {}),
    };
  };
}
