import type { Budget, Hold, Principal } from '@agentkey/core';

/**
 * Who passed `agentKeyAuth`: one shape for native keys (`kind: 'key'`) and external identities
 * (`kind: 'subject'`), with the budget after this request's charge.
 */
export interface AgentKeyPrincipal extends Principal {
  /** Which verifier proved the caller: `'native'` for `ak_` keys, else the verifier's id. */
  verifier: string;
  /** The token's verified claims for external callers; empty for native keys. */
  claims: Readonly<Record<string, unknown>>;
  budget: Budget;
  /** What this request was charged, in cents. */
  chargedCents: number;
  /** With the `hold` option: the hold this request runs under, settled when the response ends. */
  hold?: Hold;
  /** With the `idempotencyKey` option: true when the key matched an earlier call (nothing more charged). */
  replayed?: boolean;
}

/** What the gate hands back on success (core's `AuthenticateResult` when ok). */
interface Authenticated {
  principal: Principal & { verifier: string; claims: Readonly<Record<string, unknown>> };
  budget: Budget;
  chargedCents: number;
  hold?: Hold;
  replayed?: boolean;
}

/** Field by field, so nothing the gate adds later leaks onto `req.agentKey` unannounced. */
export function toAgentKeyPrincipal({
  principal: p,
  budget,
  chargedCents,
  hold,
  replayed,
}: Authenticated): AgentKeyPrincipal {
  return {
    kind: p.kind,
    id: p.id,
    subject: p.subject,
    accountId: p.accountId,
    userId: p.userId,
    name: p.name,
    scopes: p.scopes,
    expiresAt: p.expiresAt,
    delegatedBy: p.delegatedBy,
    verifier: p.verifier,
    claims: p.claims,
    budget: {
      limitCents: budget.limitCents,
      usedCents: budget.usedCents,
      heldCents: budget.heldCents,
      remainingCents: budget.remainingCents,
      period: budget.period,
      resetAt: budget.resetAt,
    },
    chargedCents,
    ...(hold ? { hold } : {}),
    ...(replayed ? { replayed } : {}),
  };
}

/**
 * True for what `agentKeyAuth` sets, false for `agentKeyMiddleware`'s validate result: the
 * principal has `kind`, the validate result has `valid: true` and no `kind`.
 */
export function isAgentKeyPrincipal(value: unknown): value is AgentKeyPrincipal {
  return (
    typeof value === 'object' &&
    value !== null &&
    'kind' in value &&
    (value.kind === 'key' || value.kind === 'subject') &&
    !('valid' in value)
  );
}
