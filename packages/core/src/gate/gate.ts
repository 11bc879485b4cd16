import type { Change } from '../changes/feed.js';
import { idpUnavailable, invalidToken, unprovisioned } from '../errors/auth-errors.js';
import { AgentKeyInputError, type AuthError, type RateLimitState } from '../errors/errors.js';
import { isIdent } from '../input/values.js';
import type { AuthorizeResult, Budget, EnsureSubjectOptions, Hold, Principal } from '../types.js';
import { type PolicyCheck, readFirstSeenPolicy } from './first-seen.js';
import { SubjectNamespaces } from './namespaces.js';
import { GATE_STORE, type GateStore, type GateStoreOwner } from './store-port.js';
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
      /** The rate window the call counted in, when the row or its account has a rate limit. */
      rateLimit?: RateLimitState;
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
  /** The store as the AgentKey lends it (store-port.ts): the gate needs nothing else of it. */
  private readonly store: GateStore;

  constructor(agentKey: GateStoreOwner, options: GateOptions = {}) {
    const store = agentKey?.[GATE_STORE];
    if (!store) throw new AgentKeyInputError('a Gate is built from an AgentKey (ak.gate())', 'agentKey');
    this.store = store;
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
      if (own !== undefined) this.policies.set(v, configured(checkPolicy(store, own, v.id)));
    }
    this.namespaces = new SubjectNamespaces(verifiers, options.sharedNamespaces);
    this.firstSeen =
      options.firstSeen === undefined ? undefined : configured(checkPolicy(store, options.firstSeen, null));
    this.verifiers = [...verifiers];
    // A row changed here or in another process: verifiers drop what they cached of its subject.
    // Held weakly: a gate nobody uses any more is collected, and its listener goes with it.
    const gate = new WeakRef(this);
    const stop = store.onChange?.((change) => {
      const live = gate.deref();
      if (live) live.forget(change);
      else stop?.();
    });
  }

  private forget(change: Change | null): void {
    if (change !== null && !('subject' in change.target)) return;
    const subject = change === null ? null : (change.target as { subject: string }).subject;
    for (const v of this.verifiers) {
      try {
        v.forget?.(subject);
      } catch {
        // A verifier's cache is its own business: the row decides anyway.
      }
    }
  }

  async authenticate(credential: string, options: AuthenticateOptions = {}): Promise<AuthenticateResult> {
    const result = await this.decide(credential, options);
    if (!result.ok) this.store.refused?.(result.error.code);
    return result;
  }

  private async decide(credential: string, options: AuthenticateOptions): Promise<AuthenticateResult> {
    if (credential.startsWith(this.store.keyPrefix)) {
      return withPrincipal(
        await this.store.authorize({ key: credential }, options),
        'native',
        NO_CLAIMS,
        false,
      );
    }
    const verifier = this.verifiers.find((v) => safeAccepts(v, credential));
    if (!verifier) {
      return { ok: false, error: invalidToken('unknown', 'No verifier accepts this credential.') };
    }
    let verified: Awaited<ReturnType<Verifier['verify']>>;
    try {
      verified = await verifier.verify(credential);
    } catch (cause) {
      // A verifier that throws is broken or its IdP is: fail closed.
      return { ok: false, error: idpUnavailable(cause) };
    }
    if (!verified.ok) return { ok: false, error: verified.error };
    const identity = verified.identity;
    if (!isIdent(identity.subject)) {
      return { ok: false, error: invalidToken('malformed', 'The token names an unusable subject.') };
    }
    if (!this.namespaces.allows(verifier, identity.subject)) {
      // Another issuer's row: the verifier is broken (or hostile), not the caller. Nothing is charged.
      const cause = new Error(
        `verifier ${verifier.id} returned a subject outside its namespace: ${JSON.stringify(identity.subject)}`,
      );
      return { ok: false, error: idpUnavailable(cause) };
    }
    const authorize = () =>
      this.store.authorize(
        { subject: identity.subject },
        { ...options, tokenScopes: identity.scopes, tokenExpiresAt: identity.expiresAt },
      );
    const first = await authorize();
    if (first.ok || first.error.code !== 'invalid_token' || first.error.reason !== 'unknown') {
      return withPrincipal(first, verifier.id, identity.claims, false);
    }
    // First sight: no row for this subject yet.
    const policy = this.policies.get(verifier) ?? this.firstSeen;
    if (!policy) return { ok: false, error: unprovisioned() };
    const placed = placement(policy, identity);
    if (!placed.ok) return { ok: false, error: placed.error };
    const refused = this.store.subjectOptionsRefusal(placed.options);
    if (refused) {
      return { ok: false, error: unprovisioned(`First-sight provisioning refused: ${refused.message}`) };
    }
    const provisioned = await this.store.provision(identity.subject, placed.options);
    if (!provisioned.ok) return { ok: false, error: provisioned.error };
    return withPrincipal(await authorize(), verifier.id, identity.claims, provisioned.created);
  }
}

function safeAccepts(v: Verifier, credential: string): boolean {
  try {
    return v.accepts(credential);
  } catch {
    return false;
  }
}

type Placement = { ok: true; options: EnsureSubjectOptions } | { ok: false; error: AuthError };

const cannotPlace = (cause: unknown): Placement => ({
  ok: false,
  error: unprovisioned('The first-sight policy could not place this identity.', cause),
});

/** The row a checked policy writes. A derived `accountId` is checked here: it is the one value read at use. */
function placement(policy: FirstSeenPolicy, identity: ExternalIdentity): Placement {
  let accountId: unknown;
  if (typeof policy.accountId === 'function') {
    try {
      accountId = policy.accountId(identity);
    } catch (cause) {
      // The application's function failed: this identity cannot be placed, nothing else is wrong.
      return cannotPlace(cause);
    }
  } else {
    accountId = policy.accountId ?? identity.accountId;
  }
  if (accountId !== undefined && !isIdent(accountId)) {
    return cannotPlace(
      new AgentKeyInputError('firstSeen.accountId returned an unusable account id', 'firstSeen.accountId'),
    );
  }
  // Required and checked at construction, and the copy is frozen: these can no longer be missing.
  if (policy.scopes === undefined || policy.budgetCents === undefined) {
    return cannotPlace(new AgentKeyInputError('firstSeen: scopes and budgetCents are required', 'firstSeen'));
  }
  return {
    ok: true,
    options: {
      scopes: policy.scopes,
      budgetCents: policy.budgetCents,
      budgetPeriod: policy.budgetPeriod ?? null,
      expiresIn: policy.expiresIn ?? null,
      name: policy.name ?? null,
      ...(policy.rateLimit == null ? {} : { rateLimit: policy.rateLimit }),
      delegatedBy: identity.delegatedBy ?? null,
      ...(accountId === undefined ? {} : { accountId }),
    },
  };
}

/**
 * The policy's own shape, then what the store would refuse of it (its `validScopes`). Errors name
 * the option (`firstSeen.scopes`), and the verifier whose policy it is.
 */
function checkPolicy(store: GateStore, policy: FirstSeenPolicy, verifierId: string | null): PolicyCheck {
  const owner = verifierId === null ? '' : `verifier ${verifierId}: `;
  const named = (message: string, field: string | undefined): PolicyCheck => ({
    ok: false,
    error: new AgentKeyInputError(`${owner}${message}`, field),
  });
  const checked = readFirstSeenPolicy(policy);
  if (!checked.ok) return named(checked.error.message, checked.error.field);
  const { accountId: _ignored, ...rest } = checked.policy;
  const refused = store.subjectOptionsRefusal(rest);
  if (refused) {
    const field = `firstSeen.${refused.field ?? 'options'}`;
    return named(`${field}: ${refused.message}`, field);
  }
  return checked;
}

/** A bad policy is bad configuration: the gate's construction throws, naming the option. */
function configured(checked: PolicyCheck): FirstSeenPolicy {
  if (!checked.ok) throw checked.error;
  return checked.policy;
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
