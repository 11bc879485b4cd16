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
import type { EngineRow } from './row-shape.js';

export type { EngineRow } from './row-shape.js';

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

/**
 * A lean row's rate window (sql/rate-lean.ts), field by field; nothing for a key without one, so
 * the common row stays as small as before.
 */
export function withRate(row: EngineRow, n: EngineRow): EngineRow {
  if (!n.rate_policy) return row;
  row.rate_policy = n.rate_policy;
  row.rate_kind = n.rate_kind;
  row.rate_limit = n.rate_limit;
  row.rate_remaining = n.rate_remaining;
  row.rate_reset_sec = n.rate_reset_sec;
  row.rate_window_sec = n.rate_window_sec;
  return row;
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
