import { MICROS_PER_CENT } from '../budget/money.js';
import { rateLimitOf } from '../input/rate-limit.js';
import { ADMIN_SCOPE } from '../input/values.js';
import type { Budget, KeyInfo, Principal, ValidateFailure, ValidateResult } from '../types.js';

/** A keys-table row as the statements in `sql/statements.ts` return it; times in epoch ms. */
export interface KeyRow {
  id: number;
  account_id: string | null;
  user_id: string | null;
  name: string | null;
  scopes: string[] | null;
  budget_cents: number | null;
  budget_period: string | null;
  expires_at: number | null;
  delegated_by: string | null;
  revoked_at: number | null;
  external_subject: string | null;
  /** Admin reads only. */
  key_prefix?: string;
  pool_parent_id?: number | null;
  created_at?: number | null;
  last_used_at?: number | null;
  used_micros: number;
  /** Open holds still counting (1e-4 ¢ units): what a new call cannot use. */
  held_micros: number;
  budget_reset_at: number | null;
  /**
   * A pooled key's pool root, as of now (validate's and admin reads join it, the engine returns
   * it; all null when the key has no pool parent or its root is gone). Its used is for its current
   * period and counts every child's spend; its held counts every child's open holds.
   */
  pool_id?: number | null;
  pool_revoked_at?: number | null;
  pool_expires_at?: number | null;
  pool_budget_cents?: number | null;
  pool_used_micros?: number | null;
  pool_held_micros?: number | null;
  /** Admin reads only: the rate limit's columns. */
  rate_requests?: number | null;
  rate_cents?: number | null;
  rate_window_sec?: number | null;
}

const iso = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? null : new Date(ms).toISOString();
const date = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms));

/**
 * A key's own numbers (limit, used, held: its own row's). Its remainingCents is what a new call
 * could use: for a pooled key the lesser of its own room and its pool root's, as the engine admits.
 */
export function budgetOf(row: KeyRow): Budget {
  return budgetNumbers(
    row.budget_cents,
    row.used_micros,
    row.held_micros,
    row.budget_period,
    row.budget_reset_at,
    poolRoomMicros(row),
  );
}

/**
 * A cap's numbers. A new call is admitted while used + held + its cost fits the cap, so what is
 * left is the cap less both: never more than a call could really use. `boundMicros` is a further
 * cap's room (a pool root's) that the remainder cannot exceed; null or omitted: none.
 */
export function budgetNumbers(
  limitCents: number | null,
  usedMicros: number,
  heldMicros: number | null | undefined,
  period: string | null,
  resetAtMs: number | null | undefined,
  boundMicros: number | null = null,
): Budget {
  const left = least(roomMicros(limitCents, usedMicros, heldMicros), boundMicros);
  return {
    limitCents,
    usedCents: Number(usedMicros) / MICROS_PER_CENT,
    heldCents: Number(heldMicros ?? 0) / MICROS_PER_CENT,
    remainingCents: left === null ? null : left / MICROS_PER_CENT,
    period,
    resetAt: date(resetAtMs),
  };
}

/** What a new call could still use under one cap, in micros (cap − used − held, ≥ 0); null: no cap. */
function roomMicros(
  limitCents: number | null | undefined,
  usedMicros: number | null | undefined,
  heldMicros: number | null | undefined,
): number | null {
  if (limitCents === null || limitCents === undefined) return null;
  return Math.max(0, limitCents * MICROS_PER_CENT - Number(usedMicros ?? 0) - Number(heldMicros ?? 0));
}

/** The room of a pooled key's pool root, in micros; null when it has none (or no pool). */
const poolRoomMicros = (row: KeyRow) =>
  roomMicros(row.pool_budget_cents, row.pool_used_micros, row.pool_held_micros);

/** The smaller of two limits, null meaning none. */
const least = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));

/** Whole cents used, rounded up: what 0.2.0's `budget_used_cents` shows. */
export function usedWholeCents(row: KeyRow): number {
  return Math.ceil(Number(row.used_micros) / MICROS_PER_CENT);
}

/**
 * 0.2.0's `budgetRemainingCents`, in its whole cents: what a new charge could use, open holds
 * taken off and, for a pooled key, no more than its pool root has left. With nothing held and no
 * pool (every row 0.2.0 wrote) it is 0.2.0's `cap − used` exactly.
 */
export function remainingWholeCents(row: KeyRow): number | null {
  const left = least(roomMicros(row.budget_cents, row.used_micros, row.held_micros), poolRoomMicros(row));
  return left === null ? null : Math.floor(left / MICROS_PER_CENT);
}

function isExhausted(row: KeyRow): boolean {
  return row.budget_cents !== null && Number(row.used_micros) >= row.budget_cents * MICROS_PER_CENT;
}

const pooled = (row: KeyRow) => row.pool_parent_id !== null && row.pool_parent_id !== undefined;

/**
 * Why validate refuses a row it found, in 0.2.0's order (revoked, expired, budget_exceeded), or
 * null. A pooled key's pool root counts as the key itself, as in the engine's charge: a gone or
 * revoked root revokes it, an expired one expires it, a spent one (used ≥ cap this period) spends
 * it. A key without a pool parent gets 0.2.0's answers exactly.
 */
export function validateRefusal(row: KeyRow, nowMs: number): ValidateFailure['reason'] | null {
  const pool = pooled(row);
  const expired = (at: number | null | undefined) => at !== null && at !== undefined && at <= nowMs;
  if (row.revoked_at !== null || (pool && (row.pool_id == null || row.pool_revoked_at != null))) {
    return 'revoked';
  }
  if (expired(row.expires_at) || (pool && expired(row.pool_expires_at))) return 'expired';
  if (isExhausted(row)) return 'budget_exceeded';
  if (
    pool &&
    row.pool_budget_cents != null &&
    Number(row.pool_used_micros) >= row.pool_budget_cents * MICROS_PER_CENT
  ) {
    return 'budget_exceeded';
  }
  return null;
}

export function toValidateResult(row: KeyRow): ValidateResult {
  const used = usedWholeCents(row);
  return {
    valid: true,
    id: row.id,
    accountId: row.account_id ?? '',
    userId: row.user_id,
    scopes: row.scopes,
    budgetCents: row.budget_cents,
    budgetUsedCents: used,
    // A pooled key can use no more than its pool has left, whatever its own cap says.
    budgetRemainingCents: remainingWholeCents(row),
    budgetPeriod: row.budget_period,
    budgetResetAt: iso(row.budget_reset_at),
    expiresAt: iso(row.expires_at),
    delegatedBy: row.delegated_by,
    name: row.name ?? 'default',
  };
}

export function toKeyInfo(row: KeyRow): KeyInfo {
  return {
    kind: row.external_subject === null ? 'key' : 'subject',
    id: row.id,
    subject: row.external_subject,
    keyPrefix: row.key_prefix ?? '',
    accountId: row.account_id ?? '',
    userId: row.user_id,
    name: row.name ?? 'default',
    scopes: row.scopes,
    budget: budgetOf(row),
    poolParentId: row.pool_parent_id ?? null,
    rateLimit: rateLimitOf(row),
    expiresAt: date(row.expires_at),
    delegatedBy: row.delegated_by,
    createdAt: date(row.created_at),
    lastUsedAt: date(row.last_used_at),
    revokedAt: date(row.revoked_at),
  };
}

export function toPrincipal(
  row: KeyRow,
  tokenScopes: readonly string[] | null | undefined,
  tokenExpiresAt: Date | null | undefined,
): Principal {
  const rowExpiry = date(row.expires_at);
  const tokenExpiry = tokenExpiresAt ?? null;
  return {
    kind: row.external_subject === null ? 'key' : 'subject',
    id: row.id,
    subject: row.external_subject,
    accountId: row.account_id ?? '',
    userId: row.user_id,
    name: row.name ?? 'default',
    scopes: intersectScopes(row.scopes, tokenScopes ?? null),
    expiresAt: earliest(rowExpiry, tokenExpiry),
    delegatedBy: row.delegated_by,
  };
}

/**
 * The token's side of the intersection, applied once per request before both the decision (SQL
 * and `tokenGrants`) and the principal read it, so `hasScope(principal, s)` answers as authorize
 * does. A token grants only scopes the store knows (`validScopes`, when configured), and never
 * `admin`: its every-scope meaning is an operator's grant, on a row, not an IdP's string.
 */
export function tokenSide(
  token: readonly string[],
  validScopes: ReadonlySet<string> | null,
): readonly string[] {
  return token.filter((s) => s !== ADMIN_SCOPE && (validScopes === null || validScopes.has(s)));
}

/** Whether these scopes grant every scope: none listed (null), or `admin`. */
export function grantsAll(scopes: readonly string[] | null): boolean {
  return scopes === null || scopes.includes(ADMIN_SCOPE);
}

/** `hasScope`: whether a validate result or principal carries `scope` (or grants every scope). */
export function hasScope(result: { scopes: readonly string[] | null }, scope: string): boolean {
  return grantsAll(result.scopes) || result.scopes!.includes(scope);
}

/** null on either side means no limit from that side; a row's `admin` grants what the token grants. */
export function intersectScopes(row: string[] | null, token: readonly string[] | null): string[] | null {
  if (row === null) return token === null ? null : [...token];
  if (token === null || grantsAll(row)) return token === null ? row : [...token];
  return row.filter((s) => token.includes(s));
}

/** The earlier of two expiries; null is never. */
export function earliest(a: Date | null, b: Date | null): Date | null {
  if (a === null || b === null) return a ?? b;
  return a.getTime() <= b.getTime() ? a : b;
}
