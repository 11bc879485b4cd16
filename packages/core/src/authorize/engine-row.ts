import { MICROS_PER_CENT } from '../budget/money.js';
import {
  budgetExceeded,
  expiredCredential,
  insufficientScope,
  invalidRequest,
  rateLimited,
  revokedCredential,
  unknownCredential,
} from '../errors/auth-errors.js';
import type { AuthError, RateLimitState } from '../errors/errors.js';
import { budgetNumbers, type KeyRow } from '../keys/rows.js';
import type { Budget } from '../types.js';
import type { Descriptor } from './descriptor-cache.js';

/** What the engine functions (sql/engine.ts) and the lean statements return. */
export interface EngineRow extends KeyRow {
  outcome:
    | 'ok'
    | 'unknown'
    | 'revoked'
    | 'expired'
    | 'scope'
    | 'budget'
    | 'rate_limited'
    | 'no_hold'
    | `hold_${string}`;
  cap?: 'key' | 'pool' | 'account' | null;
  hold_id?: string | number | null;
  charged_micros?: number;
  shortfall_micros?: number;
  replayed?: boolean;
  account_limit_cents?: number | null;
  account_used_micros?: number | null;
  account_reset_at?: number | null;
  /** The account's open holds still counting. */
  account_held_micros?: number | null;
  hold_amount_micros?: number | null;
  hold_expires_at?: number | null;
  /** The pool parent's next reset, for a refusal by the pool's cap. */
  pool_reset_at?: number | null;
  /** The rate window that refused, or that a passed call counted in (engine rows only). */
  rate_policy?: 'key' | 'account' | null;
  rate_kind?: 'requests' | 'cents' | null;
  /** Calls, or cents, per window. */
  rate_limit?: number | null;
  /** Calls, or micros, left in the window. */
  rate_remaining?: number | null;
  rate_reset_sec?: number | null;
  rate_window_sec?: number | null;
}

/** The rate window of an engine row, in the caller's units (cents, not micros); undefined: none. */
export function rateStateOf(row: EngineRow): RateLimitState | undefined {
  if (!row.rate_policy || !row.rate_kind) return undefined;
  const remaining = Number(row.rate_remaining ?? 0);
  return {
    policy: row.rate_policy,
    kind: row.rate_kind,
    limit: Number(row.rate_limit),
    remaining: row.rate_kind === 'cents' ? remaining / MICROS_PER_CENT : remaining,
    resetSec: Number(row.rate_reset_sec),
    windowSec: Number(row.rate_window_sec),
  };
}

/** The account's ceiling numbers, when the row's account has one. */
export function accountBudgetOf(row: EngineRow): Budget | undefined {
  if (row.account_limit_cents === null || row.account_limit_cents === undefined) return undefined;
  return budgetNumbers(
    row.account_limit_cents,
    Number(row.account_used_micros ?? 0),
    row.account_held_micros,
    null,
    row.account_reset_at,
  );
}

/** Why the engine refused, as a stable outcome; null when it did not. Order: 0.2.0's. */
export function refusalOf(row: EngineRow, nowMs: number, scope: string | null): AuthError | null {
  switch (row.outcome) {
    case 'ok':
      return null;
    case 'unknown':
      return unknownCredential();
    case 'revoked':
      return revokedCredential();
    case 'expired':
      return expiredCredential();
    case 'scope':
      return insufficientScope(scope ?? '');
    case 'budget': {
      const cap = row.cap === 'account' || row.cap === 'pool' ? row.cap : 'key';
      const resetMs =
        cap === 'account' ? row.account_reset_at : cap === 'pool' ? row.pool_reset_at : row.budget_reset_at;
      return budgetExceeded(
        cap,
        resetMs === null || resetMs === undefined
          ? undefined
          : Math.max(1, Math.ceil((resetMs - nowMs) / 1000)),
      );
    }
    case 'rate_limited': {
      const state = rateStateOf(row);
      if (state) return rateLimited(state);
      return invalidRequest('Refused: rate_limited.');
    }
    default:
      return invalidRequest(`Refused: ${row.outcome}.`);
  }
}

/** The account numbers of a key-and-account charge, field by field. */
export function accountNumbers(
  row: EngineRow,
): Pick<
  EngineRow,
  'account_limit_cents' | 'account_used_micros' | 'account_reset_at' | 'account_held_micros'
> {
  return {
    account_limit_cents: row.account_limit_cents,
    account_used_micros: row.account_used_micros,
    account_reset_at: row.account_reset_at,
    account_held_micros: row.account_held_micros,
  };
}

/** A passed charge's row, built field by field: object spread of pg rows is a slow path in V8. */
export function passedRow(d: Omit<Descriptor, 'capped'>, n: KeyRow): EngineRow {
  return {
    outcome: 'ok',
    id: n.id,
    account_id: d.account_id,
    user_id: d.user_id,
    name: d.name,
    scopes: d.scopes,
    budget_cents: n.budget_cents,
    budget_period: d.budget_period,
    expires_at: n.expires_at,
    delegated_by: d.delegated_by,
    revoked_at: null,
    external_subject: d.external_subject,
    used_micros: n.used_micros,
    held_micros: n.held_micros,
    budget_reset_at: n.budget_reset_at,
  };
}
