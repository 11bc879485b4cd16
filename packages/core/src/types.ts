import type { BudgetPeriod } from './budget/period.js';
import type { AuthError, RateLimitState } from './errors/errors.js';
import type { RateLimit, RateLimitInfo } from './input/rate-limit.js';

export type { RateLimitState } from './errors/errors.js';
export type { RateLimit, RateLimitInfo } from './input/rate-limit.js';
export type { AgentKeyOptions } from './store-options.js';

export interface CreateKeyOptions {
  accountId: string | number;
  userId?: string | null;
  scopes?: string[] | null;
  budgetCents?: number | null;
  budgetPeriod?: BudgetPeriod | null;
  expiresIn?: string | null;
  delegatedBy?: string | null;
  name?: string | null;
  /** Draw on this key's budget pool instead of a new one (its root, when it is itself pooled). */
  poolParentId?: number | null;
  /** The latest the key may expire: its expiry is the earlier of this and `expiresIn`, set in its INSERT. */
  notAfter?: Date | null;
  /** Calls and/or cents per window for this key or subject; null or omitted: none. */
  rateLimit?: RateLimit | null;
}

/** Who did an admin action, for the ledger's audit rows. */
export interface AuditOptions {
  actor?: string;
}

export interface CreateKeyResult {
  key: string;
  id: number;
  scopes: string[] | null;
  budgetCents: number | null;
  budgetPeriod: string | null;
  expiresAt: string | null;
}

export type EnsureSubjectOptions = Omit<CreateKeyOptions, 'accountId'> & { accountId?: string | number };

export interface ValidateResult {
  valid: true;
  id: number;
  accountId: string;
  userId: string | null;
  scopes: string[] | null;
  budgetCents: number | null;
  budgetUsedCents: number;
  /** What a new charge could use: the cap less what is used and what open holds reserve. */
  budgetRemainingCents: number | null;
  budgetPeriod: string | null;
  budgetResetAt: string | null;
  expiresAt: string | null;
  delegatedBy: string | null;
  name: string;
}

export interface ValidateFailure {
  valid: false;
  reason: 'invalid' | 'revoked' | 'expired' | 'budget_exceeded';
}

export type TrackUsageResult =
  | { success: true; budgetUsedCents?: number; budgetRemainingCents?: number | null }
  | { success: false; reason: 'budget_exceeded' | 'invalid_key' | 'invalid_cost' | 'rate_limited' };

/** A key or subject as admin calls see it. Never carries the key or its hash. */
export interface KeyInfo {
  kind: 'key' | 'subject';
  id: number;
  subject: string | null;
  keyPrefix: string;
  accountId: string;
  userId: string | null;
  name: string;
  scopes: string[] | null;
  budget: Budget;
  /** The key whose budget pool this one also draws on (always a pool's root), or null. */
  poolParentId: number | null;
  rateLimit: RateLimitInfo | null;
  expiresAt: Date | null;
  delegatedBy: string | null;
  createdAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** Budget numbers in cents, exact to 1e-4 ¢. */
export interface Budget {
  limitCents: number | null;
  usedCents: number;
  /** Reserved by open holds that still count (a hold past its TTL stops counting). */
  heldCents: number;
  /** What a new call could use: the limit less used and held; null when unlimited. */
  remainingCents: number | null;
  period: string | null;
  resetAt: Date | null;
}

/** Who is calling, once authorized. One shape for native keys and external subjects. */
export interface Principal {
  kind: 'key' | 'subject';
  id: number;
  subject: string | null;
  accountId: string;
  userId: string | null;
  name: string;
  /** Effective scopes: the row's, intersected with the token's for external callers. */
  scopes: string[] | null;
  /** Effective expiry: the earlier of the row's and the token's. */
  expiresAt: Date | null;
  delegatedBy: string | null;
}

export type Credential = string | { key: string } | { subject: string };

export interface AuthorizeOptions {
  /** Scope the request needs. */
  scope?: string;
  /** Cost to charge when authorized, in cents (fractional allowed, exact to 1e-4 ¢). */
  costCents?: number;
  /** For external identities: the scopes the token grants (null: the IdP says nothing). */
  tokenScopes?: readonly string[] | null;
  /** For external identities: the token's own expiry. */
  tokenExpiresAt?: Date | null;
  /** Reserve this much (cents) as a hold in the same step; settle or release it later. */
  holdCents?: number;
  /** How long the hold counts if never settled: ms or a duration (`90s` is not one; use ms or `2m`). Default 15m. */
  holdTtl?: string | number;
  /** A repeat with the same key (per principal) returns the first outcome and charges nothing more. */
  idempotencyKey?: string;
  /** Stored with the ledger row (a plain object, ≤ 4 KB of JSON). */
  metadata?: Record<string, unknown>;
}

export interface TrackUsageOptions {
  costCents: number;
  idempotencyKey?: string;
}

export interface Hold {
  id: string;
  amountCents: number;
  expiresAt: Date;
}

export type AuthorizeResult =
  | {
      ok: true;
      principal: Principal;
      /** The key's (or subject's) own budget. */
      budget: Budget;
      /** The account ceiling, when the account has one. */
      account?: Budget;
      chargedCents: number;
      /** The hold reserved with `holdCents`. */
      hold?: Hold;
      /** True when an idempotency key matched an earlier call: nothing more was charged. */
      replayed?: boolean;
      /** The rate window the call counted in, when the key or its account has a rate limit. */
      rateLimit?: RateLimitState;
    }
  | { ok: false; error: AuthError; principal?: Principal; budget?: Budget; account?: Budget };

export interface UpdateOptions {
  scopes?: string[] | null;
  budgetCents?: number | null;
  budgetPeriod?: BudgetPeriod | null;
  /** A new expiry from now (`24h`, `30d`…), or null for none. */
  expiresIn?: string | null;
  /** A new absolute expiry, or null for none. */
  expiresAt?: Date | null;
  name?: string | null;
  /** A new rate limit, or null for none. The current window's count carries over. */
  rateLimit?: RateLimit | null;
}

export interface ReserveOptions {
  /** The most the call may cost, in cents: held against every cap until settled or released. */
  maxCents: number;
  /** How long the hold counts if never settled: ms or a duration (`15m`, `1h`); 1 s to 1 day, default 15m. */
  ttl?: string | number;
  scope?: string;
  idempotencyKey?: string;
  metadata?: Record<string, unknown>;
  tokenScopes?: readonly string[] | null;
  tokenExpiresAt?: Date | null;
}

export interface SettleOptions {
  /** The actual cost, in cents (fractional allowed). */
  costCents: number;
  idempotencyKey?: string;
  metadata?: Record<string, unknown>;
}

export interface HoldError {
  code: 'hold_not_found' | 'hold_expired' | 'hold_closed' | 'idempotency_conflict' | 'unavailable';
  description: string;
  /** For `unavailable`: seconds until a retry may pass. */
  retryAfterSec?: number;
  cause?: unknown;
}

export type SettleResult =
  | {
      ok: true;
      chargedCents: number;
      /** Cost above what the caps allowed; not charged, reported so it is never silently free. */
      shortfallCents: number;
      /** Which cap limited the charge, when one did. */
      cap?: 'key' | 'account';
      budget: Budget;
      account?: Budget;
      replayed?: boolean;
    }
  | { ok: false; error: HoldError };

/** An account's ceiling: its numbers as a key's budget has them (`remainingCents`: what a new call could use). */
export interface AccountInfo extends Budget {
  accountId: string;
  rateLimit: RateLimitInfo | null;
}

export type BudgetTarget = { keyId: number } | { subject: string } | { accountId: string | number };

export interface SpendOptions {
  from: Date;
  to: Date;
  groupBy?: 'hour' | 'day';
}

export interface SpendReport {
  totalCents: number;
  buckets?: Array<{ start: Date; cents: number }>;
}

/** An open hold, as `listHolds` reports it. */
export interface HoldInfo {
  id: string;
  /** The key or subject row that reserved it. */
  keyId: number;
  subject: string | null;
  /** The account whose ceiling it counts against, when the account has one. */
  accountId: string | null;
  amountCents: number;
  createdAt: Date;
  expiresAt: Date;
}

export interface ListHoldsOptions {
  accountId?: string | number | null;
  /** A key's (or subject's) row id: its own holds and, for a pool root, its pool's. */
  keyId?: number | string | null;
  /** At most this many (default 1000). */
  limit?: number;
}

/** One row of the append-only ledger: a charge, hold, settle, release, void, adjust or admin action. */
export interface LedgerEntry {
  /** Ascending: a tail passes the last one it saw as `afterId`. */
  id: string;
  at: Date;
  keyId: number | null;
  subject: string | null;
  accountId: string | null;
  kind: string;
  amountCents: number;
  idempotencyKey: string | null;
  holdId: string | null;
  actor: string | null;
  metadata: Record<string, unknown> | null;
}

export interface LedgerOptions {
  /** Entries after this id, in id order; omitted: the newest `limit`, oldest first. */
  afterId?: string | number;
  accountId?: string | number | null;
  /** At most this many (default 100). */
  limit?: number;
}

export interface MigrateOptions {
  /**
   * Build the indexes of pending migrations first with CREATE INDEX CONCURRENTLY, one at a time, so
   * large tables keep taking writes while they build (a plain CREATE INDEX blocks every charge for
   * the whole build); then apply the rest as usual. Run it from one place, such as a deploy step.
   */
  concurrently?: boolean;
}
