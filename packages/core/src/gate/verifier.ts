import type { BudgetPeriod } from '../budget/period.js';
import { AgentKeyInputError, type AuthError } from '../errors/errors.js';
import type { RateLimit } from '../types.js';

/** Who an identity provider says is calling. */
export interface ExternalIdentity {
  /** Namespaced and stable: `<namespace>|<id>`, the namespace naming the issuer. */
  subject: string;
  /** What the IdP granted this token; null = the IdP says nothing. */
  scopes: readonly string[] | null;
  /** The token's own expiry. */
  expiresAt: Date | null;
  /** Org or tenant, when the IdP names one. */
  accountId?: string;
  /** The human behind the machine, when the IdP names one. */
  delegatedBy?: string;
  claims: Readonly<Record<string, unknown>>;
}

export type VerifyResult = { ok: true; identity: ExternalIdentity } | { ok: false; error: AuthError };

/**
 * What a subject gets on first sight. Without a policy, unknown subjects are refused. Zero access
 * by default: a policy must say what it grants, so `scopes` and `budgetCents` are required (`null`
 * is an explicit "unlimited"). Checked at construction (`checkFirstSeenPolicy`).
 */
export interface FirstSeenPolicy {
  /** The row's scopes; null: every scope. */
  scopes: string[] | null;
  /** The row's cap in whole cents; null: no cap. */
  budgetCents: number | null;
  budgetPeriod?: BudgetPeriod | null;
  /** The row's expiry from first sight (`30d`…); zero is refused. Default: none. */
  expiresIn?: string | null;
  /** A fixed account, or one derived from the identity; default: the identity's accountId, else the subject. */
  accountId?: string | ((identity: ExternalIdentity) => string | undefined);
  name?: string;
  /** The new row's rate limit (calls and/or cents per window); default none. */
  rateLimit?: RateLimit | null;
}

/** A plugin that proves an external caller. Construction-time errors throw; verification returns results. */
export interface Verifier {
  /** Unique within one gate: 'clerk', 'oidc:<issuer>', … */
  readonly id: string;
  /**
   * The authorization server's issuer identifier (RFC 8414), when the verifier trusts one: what
   * protected-resource metadata (RFC 9728) names in `authorization_servers`.
   */
  readonly issuer?: string;
  /** Cheap and free of I/O: a prefix, or a JWT whose `iss` matches. */
  accepts(credential: string): boolean;
  verify(credential: string): Promise<VerifyResult>;
  /** This verifier's first-sight policy, if it has one. */
  readonly firstSeen?: FirstSeenPolicy;
  /**
   * The namespace of every subject this verifier returns (`<namespace>|<id>`); the built-in
   * verifiers declare theirs. The gate answers `unavailable` (and charges nothing) for a subject
   * outside it: a verifier naming another issuer's subject is a bug, never a caller's right. A
   * verifier declaring none may name any subject but one in a namespace another verifier of the
   * same gate declares. Two verifiers of one gate may declare the same namespace only when the gate
   * lists it in `sharedNamespaces` (one tenant behind two domains).
   */
  readonly subjectNamespace?: string;
  /**
   * Drops what this verifier cached for `subject` (null: everything). The gate calls it when the
   * subject's row changes in any process (the store's `changes` feed). Decisions never rest on a
   * cached answer alone: the row is read on every request, so a revoked or narrowed subject is
   * refused at once either way; this keeps the cached identity no older than the row.
   */
  forget?(subject: string | null): void;
}

/**
 * Checks a subject namespace once, at a verifier's construction; throws naming `option`. `|` is
 * refused: a namespace `a|b` with id `c` would share the subject of namespace `a` with id `b|c`.
 * Ids may hold anything, `|` included, since a subject's first `|` then ends its namespace.
 */
export function checkSubjectNamespace(namespace: unknown, option = 'namespace'): string {
  if (typeof namespace !== 'string' || namespace === '' || namespace.includes('|')) {
    throw new AgentKeyInputError(
      `${option} must be a non-empty string without '|' (it separates a subject's namespace from its id)`,
      option,
    );
  }
  return namespace;
}

/** `<namespace>|<id>`: two issuers can never share a row. Throws for a namespace `checkSubjectNamespace` refuses. */
export function namespacedSubject(namespace: string, id: string): string {
  return `${checkSubjectNamespace(namespace)}|${id}`;
}
