import { type BudgetPeriod, grantsAll, type ValidateResult } from '@agentkey/core';

export interface ChildRequest {
  scopes: string[] | undefined;
  budgetCents: number | undefined;
  budgetPeriod: BudgetPeriod | undefined;
  /** Requested lifetime in milliseconds. */
  expiresInMs: number | undefined;
  /** The body's `pool`: `'parent'`, `'own'`, or unset. */
  pool?: 'parent' | 'own' | undefined;
}

/** The budget the caller spends from: its own cap, or for a pooled key without one, its pool's. */
export interface CallerBudget {
  /** The key whose pool the caller also draws on, or null. */
  poolParentId: number | null;
  /** The pool root's cap and period, when the caller is pooled. */
  pool: { budgetCents: number | null; budgetPeriod: string | null } | null;
}

export type Attenuation =
  | { ok: true; scopes: string[] | null; pooled: boolean }
  | { ok: false; error: string };

/** 0.2.0's refusals, verbatim; the rest are new cases with new text. */
export const refusals = {
  scopes: (extra: string[]) => `Cannot grant scopes you do not have: ${extra.join(', ')}`,
  budget: (cap: number) => `Child budget_cents must be set and not exceed your budget of ${cap}`,
  expiry: "Child key expiry must be set and not exceed your key's expiry",
  period: (period: string | null) =>
    `budget_period must not renew more often than the calling key's (${period ?? 'none'})`,
  ownPool:
    "pool 'own' is not allowed for a key with a budget or a pool: its children always share that budget",
  pooledWithCap:
    "This key shares its parent's budget and has a cap of its own, so it cannot mint keys: their spending would not count against that cap",
  remaining: (why: string) => `Child budget_cents must not exceed what your key has left to spend. ${why}`,
} as const;

/** How often a budget starts afresh: a longer (or no) period grants less over time. */
const RENEWALS: Record<string, number> = { day: 3, week: 2, month: 1 };
const renewals = (period: string | null | undefined) => (period ? (RENEWALS[period] ?? 3) : 0);

/**
 * A key may only mint keys weaker than itself: no scope it lacks (unless it is unlimited or
 * `admin`), no larger budget, no budget that renews more often than its own, no later expiry.
 * A caller with a budget or a pool mints its children on its pool (the core puts them on the
 * pool's root), so what they spend together never passes what the caller may spend, however many
 * there are. Whether the child's budget fits what is left is checked against the store afterwards.
 */
export function attenuate(
  caller: ValidateResult,
  budget: CallerBudget,
  child: ChildRequest,
  now: Date,
): Attenuation {
  const broad = grantsAll(caller.scopes);
  const scopes = child.scopes ?? caller.scopes;
  if (!broad && scopes !== null) {
    const extra = scopes.filter((s) => !caller.scopes!.includes(s));
    if (extra.length > 0) return { ok: false, error: refusals.scopes(extra) };
  }

  const pooledCaller = budget.poolParentId !== null;
  // Pools never nest: a pooled key's children land on its root, where the key's own cap does not reach.
  if (pooledCaller && caller.budgetCents !== null) return { ok: false, error: refusals.pooledWithCap };
  const limited = caller.budgetCents !== null || pooledCaller;
  if (limited && child.pool === 'own') return { ok: false, error: refusals.ownPool };

  const cap = caller.budgetCents ?? budget.pool?.budgetCents ?? null;
  const period = caller.budgetCents !== null ? caller.budgetPeriod : (budget.pool?.budgetPeriod ?? null);
  // `pool: 'parent'` may leave the child uncapped: it can still spend only what the pool has left.
  const needsCap = cap !== null && !(child.pool === 'parent' && child.budgetCents === undefined);
  if (needsCap) {
    if (child.budgetCents === undefined || child.budgetCents > cap) {
      return { ok: false, error: refusals.budget(cap) };
    }
    if (renewals(child.budgetPeriod) > renewals(period)) return { ok: false, error: refusals.period(period) };
  }

  if (caller.expiresAt !== null) {
    const callerEnd = new Date(caller.expiresAt).getTime();
    if (child.expiresInMs === undefined || now.getTime() + child.expiresInMs > callerEnd) {
      return { ok: false, error: refusals.expiry };
    }
  }

  return { ok: true, scopes, pooled: limited || child.pool === 'parent' };
}
