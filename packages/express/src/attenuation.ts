import type { BudgetPeriod, ValidateResult } from '@agentkey/core';

export interface ChildRequest {
  scopes: string[] | undefined;
  budgetCents: number | undefined;
  budgetPeriod: BudgetPeriod | undefined;
  /** Requested lifetime in milliseconds. */
  expiresInMs: number | undefined;
  /** Draw on the caller's budget pool instead of a budget of its own. */
  pooled?: boolean;
}

export type Attenuation = { ok: true; scopes: string[] | null } | { ok: false; error: string };

/** How often a budget starts afresh: a longer (or no) period grants less over time. */
const RENEWALS: Record<string, number> = { day: 3, week: 2, month: 1 };
const renewals = (period: string | null | undefined) => (period ? (RENEWALS[period] ?? 3) : 0);

/**
 * A key may only mint keys weaker than itself: no scope it lacks (unless it is unlimited or
 * `admin`), no larger budget, no budget that renews more often than its own, no later expiry.
 */
export function attenuate(caller: ValidateResult, child: ChildRequest, now: Date): Attenuation {
  const broad = caller.scopes === null || caller.scopes.includes('admin');
  const scopes = child.scopes ?? caller.scopes;
  if (!broad && scopes !== null) {
    const extra = scopes.filter((s) => !caller.scopes!.includes(s));
    if (extra.length > 0) {
      return { ok: false, error: `Cannot grant scopes the calling key lacks: ${extra.join(', ')}` };
    }
  }

  // A pooled child spends from the caller's own pool, so it can never exceed it: its own cap is optional.
  if (caller.budgetCents !== null && child.pooled && child.budgetCents === undefined) {
    // nothing more to check on the budget
  } else if (caller.budgetCents !== null) {
    if (child.budgetCents === undefined || child.budgetCents > caller.budgetCents) {
      return {
        ok: false,
        error: `budget_cents is required and must not exceed the calling key's budget (${caller.budgetCents})`,
      };
    }
    if (renewals(child.budgetPeriod) > renewals(caller.budgetPeriod)) {
      return {
        ok: false,
        error: `budget_period must not renew more often than the calling key's (${caller.budgetPeriod ?? 'none'})`,
      };
    }
  }

  if (caller.expiresAt !== null) {
    const callerEnd = new Date(caller.expiresAt).getTime();
    if (child.expiresInMs === undefined || now.getTime() + child.expiresInMs > callerEnd) {
      return {
        ok: false,
        error: `expires_in is required and must not end after the calling key expires (${caller.expiresAt})`,
      };
    }
  }

  return { ok: true, scopes };
}
