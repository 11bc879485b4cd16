import type { AuthError } from '../errors/errors.js';
import { printable } from '../input/duration.js';
import { budgetNumbers, type KeyRow } from '../keys/rows.js';
import type { Budget } from '../types.js';
import { EXPIRED } from './results.js';

/** What the engine functions (sql/engine.ts) and the lean statements return. */
export interface EngineRow extends KeyRow {
  outcome: 'ok' | 'unknown' | 'revoked' | 'expired' | 'scope' | 'budget' | 'no_hold' | `hold_${string}`;
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
      return { code: 'invalid_token', reason: 'unknown', description: 'Unknown credential.' };
    case 'revoked':
      return { code: 'invalid_token', reason: 'revoked', description: 'The credential was revoked.' };
    case 'expired':
      return EXPIRED;
    case 'scope':
      return {
        code: 'insufficient_scope',
        scope: scope ?? '',
        description: `The credential lacks the scope ${printable(scope ?? '')}.`,
      };
    case 'budget': {
      const account = row.cap === 'account';
      const resetMs = account
        ? row.account_reset_at
        : row.cap === 'pool'
          ? row.pool_reset_at
          : row.budget_reset_at;
      return {
        code: 'budget_exceeded',
        cap: account ? 'account' : 'key',
        description: account
          ? "The account's budget would be exceeded."
          : row.cap === 'pool'
            ? "The parent key's pooled budget would be exceeded."
            : 'The budget would be exceeded.',
        ...(resetMs === null || resetMs === undefined
          ? {}
          : { retryAfterSec: Math.max(1, Math.ceil((resetMs - nowMs) / 1000)) }),
      };
    }
    default:
      return { code: 'invalid_request', description: `Refused: ${row.outcome}.` };
  }
}
