import type { AuthError } from '../errors/errors.js';
import type { KeyRow } from '../keys/rows.js';
import type { AuthorizeResult, HoldError } from '../types.js';
import type { Descriptor } from './descriptor-cache.js';
import type { EngineRow } from './engine-row.js';

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

export const MALFORMED: AuthError = {
  code: 'invalid_token',
  reason: 'malformed',
  description: 'The credential is malformed.',
};
export const UNKNOWN: AuthError = {
  code: 'invalid_token',
  reason: 'unknown',
  description: 'Unknown credential.',
};

export const EXPIRED: AuthError = {
  code: 'invalid_token',
  reason: 'expired',
  description: 'The credential has expired.',
};

export function unavailable(cause: unknown, table: string): AuthError {
  return { code: 'unavailable', ...storeFailure(cause, table), retryAfterSec: 1 };
}

/**
 * SQLSTATEs by which PostgreSQL says the table was never migrated (or migrated by an older
 * agentkey): a missing table, a missing engine function, a missing column.
 */
const UNMIGRATED: Readonly<Record<string, string>> = {
  '42P01': 'does not exist',
  '42883': "lacks the budget engine's functions",
  '42703': 'lacks columns this version needs',
};

/**
 * A store failure, described for the caller and for the server's log. The one failure a newcomer
 * meets first, a table nobody migrated, says so and what to do; the driver's error stays as the cause.
 */
export function storeFailure(cause: unknown, table: string): { description: string; cause: unknown } {
  const code = (cause as { code?: unknown } | null)?.code;
  const what = typeof code === 'string' ? UNMIGRATED[code] : undefined;
  if (what === undefined) return { description: 'The key store cannot answer.', cause };
  const detail = cause instanceof Error ? ` (${cause.message})` : '';
  return {
    // Safe to show a caller: names no table.
    description: 'The key store cannot answer: its table is not migrated (run ak.migrate()).',
    cause: new Error(`agentkey: table ${table} ${what}${detail}: run ak.migrate()`, { cause }),
  };
}

export function refuse(error: AuthError): AuthorizeResult {
  return { ok: false, error };
}

/** A closed hold's outcome from the engine, as a stable code. */
export function holdRefusal(outcome: string): HoldError {
  switch (outcome) {
    case 'no_hold':
      return { code: 'hold_not_found', description: 'No hold has that id.' };
    case 'hold_expired':
      return {
        code: 'hold_expired',
        description: 'The hold expired before it was settled; nothing was charged.',
      };
    case 'idempotency_conflict':
      return {
        code: 'idempotency_conflict',
        description: 'That idempotency key was already used to close another hold; nothing was done.',
      };
    default:
      return { code: 'hold_closed', description: `The hold is already ${outcome.slice('hold_'.length)}.` };
  }
}
