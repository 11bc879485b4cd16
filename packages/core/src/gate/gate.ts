import type { AgentKey } from '../agent-key.js';
import { AgentKeyInputError, type AuthError } from '../errors/errors.js';
import { isIdent } from '../input/values.js';
import type { AuthorizeResult, Budget, Hold, Principal } from '../types.js';
import { checkFirstSeenPolicy } from './first-seen.js';
import { SubjectNamespaces } from './namespaces.js';
import type { ExternalIdentity, FirstSeenPolicy, Verifier } from './verifier.js';

export interface GateOptions {
  /** Plugins for external credentials, tried in order after the native key prefix. Ids must be unique. */
  verifiers?: readonly Verifier[];
  /** First-sight policy for verifiers that have none of their own. Unset: unknown subjects are refused. */
  firstSeen?: FirstSeenPolicy;
  /**
   * Namespaces that several verifiers may declare on purpose: one issuer reachable under two
   * names (an Auth0 tenant and its custom domain), whose callers must share one row each.
   */
  sharedNamespaces?: readonly string[];
}

export interface AuthenticateOptions {
  scope?: string;
  costCents?: number;
  /** Reserve this much as a hold in the same step (see AgentKey.authorize). */
  holdCents?: number;
  holdTtl?: string | number;
  idempotencyKey?: string;
}

/** A principal as the gate reports it: one shape for native keys and external identities. */
export interface GatePrincipal extends Principal {
  /** Which verifier proved the caller: 'native' for `ak_` keys. */
  verifier: string;
  /** The token's claims for external callers; empty for native keys. */
  claims: Readonly<Record<string, unknown>>;
}

export type AuthenticateResult =
  | {
      ok: true;
      principal: GatePrincipal;
      budget: Budget;
      account?: Budget;
      chargedCents: number;
      hold?: Hold;
      replayed?: boolean;
      provisioned: boolean;
    }
  | { ok: false; error: AuthError; principal?: GatePrincipal; budget?: Budget };

const NO_CLAIMS: Readonly<Record<string, unknown>> = Object.freeze({});

/**
 * One entry point for every credential: a native key by its prefix, else the first verifier that
 * accepts it. External callers are charged against the row anchored to their subject, created on
 * first sight by the verifier's policy (or the gate's), else refused as `unprovisioned`.
 * Expected outcomes are results. Construction throws for bad configuration, and authenticate for
 * bad arguments (a malformed scope or cost), as authorize does.
 */
export class Gate {
  private readonly verifiers: readonly Verifier[];
  /** Each policy as checked at construction (a frozen copy): the caller's object is never read again. */
  private readonly policies = new Map<Verifier, FirstSeenPolicy>();
  private readonly firstSeen: FirstSeenPolicy | undefined;
  private readonly namespaces: SubjectNamespaces;

  constructor(
    private readonly agentKey: AgentKey,
    options: GateOptions = {},
  ) {
    const verifiers = options.verifiers ?? [];
    const seen = new Set<string>();
    for (const v of verifiers) {
      if (
        !v ||
        typeof v.id !== 'string' ||
        typeof v.accepts !== 'function' ||
        typeof v.verify !== 'function'
      ) {
        throw new AgentKeyInputError('verifiers: each must have id, accepts() and verify()', 'verifiers');
      }
      if (seen.has(v.id))
        throw new AgentKeyInputError(`verifiers: duplicate id ${JSON.stringify(v.id)}`, 'verifiers');
      seen.add(v.id);
      const own = v.firstSeen;
      if (own !== undefined) this.policies.set(v, checkPolicy(agentKey, own, v.id));
    }
    this.namespaces = new SubjectNamespaces(verifiers, options.sharedNamespaces);
    this.firstSeen =
      options.firstSeen === undefined ? undefined : checkPolicy(agentKey, options.firstSeen, null);
    this.verifiers = [...verifiers];
  }

  async authenticate(credential: string, options: AuthenticateOptions = {}): Promise<AuthenticateResult> {
    if (credential.startsWith(this.agentKey.keyPrefix)) {
      return withPrincipal(
        await this.agentKey.authorize({ key: credential }, options),
        'native',
        NO_CLAIMS,
        false,
      );
    }
    const verifier = this.verifiers.find((v) => safeAccepts(v, credential));
    if (!verifier) {
      return {
        ok: false,
        error: {
          code: 'invalid_token',
          reason: 'unknown',
          description: 'No verifier accepts this credential.',
        },
      };
    }
    let verified: Awaited<ReturnType<Verifier['verify']>>;
    try {
      verified = await verifier.verify(credential);
    } catch (cause) {
      // A verifier that throws is broken or its IdP is: fail closed.
      return idpUnavailable(cause);
    }
    if (!verified.ok) return { ok: false, error: verified.error };
    const identity = verified.identity;
    if (!isIdent(identity.subject)) {
      return {
        ok: false,
        error: {
          code: 'invalid_token',
          reason: 'malformed',
          description: 'The token names an unusable subject.',
        },
      };
    }
    if (!this.namespaces.allows(verifier, identity.subject)) {
      // Another issuer's row: the verifier is broken (or hostile), not the caller. Nothing is charged.
      return idpUnavailable(
        new Error(
          `verifier ${verifier.id} returned a subject outside its namespace: ${JSON.stringify(identity.subject)}`,
        ),
      );
    }
    const authorize = () =>
      this.agentKey.authorize(
        { subject: identity.subject },
        { ...options, tokenScopes: identity.scopes, tokenExpiresAt: identity.expiresAt },
      );
    const first = await authorize();
    if (first.ok || first.error.code !== 'invalid_token' || first.error.reason !== 'unknown') {
      return withPrincipal(first, verifier.id, identity.claims, false);
    }
    // First sight: no row for this subject yet.
    const policy = this.policies.get(verifier) ?? this.firstSeen;
    if (!policy) {
      return {
        ok: false,
        error: {
          code: 'unprovisioned',
          description:
            'This identity is verified but has no access here. Ask an administrator to provision it.',
        },
      };
    }
    let placement: ReturnType<typeof subjectOptions>;
    try {
      placement = subjectOptions(policy, identity);
    } catch (cause) {
      return {
        ok: false,
        error: {
          code: 'unprovisioned',
          description: 'The first-sight policy could not place this identity.',
          cause,
        },
      };
    }
    let created: boolean;
    try {
      created = await this.agentKey.provisionSubject(identity.subject, placement);
    } catch (cause) {
      if (cause instanceof AgentKeyInputError) {
        return {
          ok: false,
          error: { code: 'unprovisioned', description: `First-sight provisioning refused: ${cause.message}` },
        };
      }
      return {
        ok: false,
        error: { code: 'unavailable', description: 'The key store cannot answer.', retryAfterSec: 1, cause },
      };
    }
    return withPrincipal(await authorize(), verifier.id, identity.claims, created);
  }
}

/** The IdP side failed closed: a 503 with a short retry, the cause kept for the reporter. */
function idpUnavailable(cause: unknown): AuthenticateResult {
  return {
    ok: false,
    error: {
      code: 'unavailable',
      description: 'The identity provider cannot answer.',
      retryAfterSec: 5,
      cause,
    },
  };
}

function safeAccepts(v: Verifier, credential: string): boolean {
  try {
    return v.accepts(credential);
  } catch {
    return false;
  }
}

/** The row a checked policy writes. A derived `accountId` is checked here: it is the one value read at use. */
function subjectOptions(policy: FirstSeenPolicy, identity: ExternalIdentity) {
  const accountId =
    typeof policy.accountId === 'function'
      ? policy.accountId(identity)
      : (policy.accountId ?? identity.accountId);
  if (accountId !== undefined && !isIdent(accountId)) {
    throw new AgentKeyInputError(
      'firstSeen.accountId returned an unusable account id',
      'firstSeen.accountId',
    );
  }
  // Required and checked at construction, and the copy is frozen: these can no longer be missing.
  if (policy.scopes === undefined || policy.budgetCents === undefined) {
    throw new AgentKeyInputError('firstSeen: scopes and budgetCents are required', 'firstSeen');
  }
  return {
    scopes: policy.scopes,
    budgetCents: policy.budgetCents,
    budgetPeriod: policy.budgetPeriod ?? null,
    expiresIn: policy.expiresIn ?? null,
    name: policy.name ?? null,
    delegatedBy: identity.delegatedBy ?? null,
    ...(accountId === undefined ? {} : { accountId }),
  };
}

/**
 * The policy's own shape, then what the store would refuse of it (its `validScopes`). Errors name
 * the option (`firstSeen.scopes`), and the verifier whose policy it is.
 */
function checkPolicy(
  agentKey: AgentKey,
  policy: FirstSeenPolicy,
  verifierId: string | null,
): FirstSeenPolicy {
  const owner = verifierId === null ? '' : `verifier ${verifierId}: `;
  try {
    const checked = checkFirstSeenPolicy(policy);
    const { accountId: _ignored, ...rest } = checked;
    try {
      agentKey.checkSubjectOptions(rest);
    } catch (error) {
      const field = `firstSeen.${(error as AgentKeyInputError).field ?? 'options'}`;
      throw new AgentKeyInputError(`${field}: ${(error as Error).message}`, field);
    }
    return checked;
  } catch (error) {
    if (!(error instanceof AgentKeyInputError)) throw error;
    throw new AgentKeyInputError(`${owner}${error.message}`, error.field);
  }
}

function withPrincipal(
  result: AuthorizeResult,
  verifier: string,
  claims: Readonly<Record<string, unknown>>,
  provisioned: boolean,
): AuthenticateResult {
  const principal = result.principal ? { ...result.principal, verifier, claims } : undefined;
  if (result.ok) return { ...result, principal: principal!, provisioned };
  return {
    ok: false,
    error: result.error,
    ...(principal ? { principal } : {}),
    ...(result.budget ? { budget: result.budget } : {}),
  };
}
