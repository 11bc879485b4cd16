import type { EngineRow } from '../authorize/row-shape.js';
import type { StoreReporter } from '../db/pool-errors.js';

/** The column a request names its row by (sql/columns.ts Selector). */
type Selector = 'key_hash' | 'external_subject';

/**
 * What PostgreSQL answered for a charge, a hold or a refusal (the engine's row shape, times in
 * epoch ms): a counter builds its mirror from it, and answers a refusal in the same shape.
 */
export type CounterRow = EngineRow;

/** One authorize or reserve, as a counter sees it: checked arguments, nothing secret but the lookup. */
export interface CounterCall {
  /** How the request names its row: a native key's SHA-256 hash, or an external subject. */
  readonly by: Selector;
  readonly value: string;
  /** The call's request id (a UUID): its in-flight reservation is named by it. */
  readonly rid: string;
  /** The store's clock (the `now` option) in epoch ms: the budget rules judge at this time. */
  readonly nowMs: number;
  /**
   * How long an in-flight reservation may live (ms): the call's remaining deadline. A process that
   * dies between admission and its PostgreSQL write leaves a reservation that lapses by then.
   */
  readonly ttlMs: number;
  /** Cost to charge and amount to hold, in micros (1e-4 ¢). */
  readonly micros: number;
  readonly holdMicros: number;
  readonly scope: string | null;
  /** False when the token itself refuses the scope (external callers). */
  readonly tokenGrants: boolean;
  /** The call carries an idempotency key: a repeat may be a replay, which only PostgreSQL can tell. */
  readonly idempotent: boolean;
}

/**
 * A counter's admission:
 * - `refused`: a trusted mirror (current generation) refuses; `row` is the refusal, answered with
 *   no PostgreSQL statement at all. Only refusals PostgreSQL would give too (revoked, expired,
 *   scope, budget, rate_limited) may be answered so.
 * - `reserved`: the mirror admits and counts the call as in flight; PostgreSQL decides, then
 *   `settle(call, true, row)` commits or corrects the mirror from PostgreSQL's answer.
 * - `unknown`: no trusted mirror (a miss, an old generation, Redis down or slow): PostgreSQL
 *   decides, then `settle(call, false, row)` rebuilds the mirror from its row.
 */
export type CounterAdmission =
  | { readonly kind: 'refused'; readonly row: CounterRow }
  | { readonly kind: 'reserved' }
  | { readonly kind: 'unknown' };

/** What an admin change or a closed hold touched: mirrors of it must not be trusted any more. */
export type CounterTarget =
  | { readonly accountId: string }
  | { readonly keyId: number }
  | { readonly subject: string }
  /** Every mirror this process can no longer vouch for (an admin call whose row it cannot name). */
  | { readonly all: true };

export interface CounterInvalidation {
  readonly onlyIfKnown?: boolean;
}

/**
 * A write-through counter in front of PostgreSQL (`new AgentKey({ pool, counter })`; the Redis one
 * is `redisCounter` in @agentkey/redis). PostgreSQL stays the source of truth: the counter admits,
 * PostgreSQL makes the charge durable (batched, as without a counter), and only then is the call
 * acknowledged. A counter may be wrong only towards admitting (PostgreSQL then refuses); it
 * answers a refusal itself only from a mirror it trusts.
 *
 * The store bounds every call to a counter by the request's deadline and treats a rejection or a
 * late answer as `unknown` (admit) or as done (the rest): a counter can slow a call, never fail it.
 */
export interface Counter {
  /**
   * Optional: the store hands its table (`tableName` as given, lower-cased) when it is built and
   * uses the counter returned, so two stores with other tables never share a counter's state.
   * `report` is the store's `onError`: where the counter tells of failures it absorbs (its backend
   * down, say) — a call never fails for them, and an operator still learns of them.
   */
  bind?(table: string, report?: StoreReporter): Counter;
  /** Optional, on the counter `bind` returned: its store closed, so `report` hears no more from it. */
  unbind?(report: StoreReporter): void;
  admit(call: CounterCall): Promise<CounterAdmission>;
  /**
   * PostgreSQL answered `row` (undefined: no such credential). `reserved`: `admit` reserved it.
   * The mirror is committed from the answer, or corrected from it when PostgreSQL refused what
   * the mirror admitted (PostgreSQL wins). The store acknowledges the call without waiting for
   * this: a counter must keep the reservation counting until its settle lands, and order a
   * process's settle before that process's next admission (one connection does).
   */
  settle(call: CounterCall, reserved: boolean, row: CounterRow | undefined): Promise<void>;
  /** PostgreSQL failed or timed out (the call may still commit): drop the reservation and the trust. */
  abandon(call: CounterCall, reserved: boolean): Promise<void>;
  /**
   * A hold closed, or an admin call changed budget, scope, expiry, rate limit or revocation of
   * `target`. With `onlyIfKnown` (another process's change, heard through the `changes` feed): a
   * row this process cannot name needs nothing from it — the process that made the change did it.
   */
  invalidate(target: CounterTarget, options?: CounterInvalidation): Promise<void>;
  /** Optional: a relay for a store on this counter's table, asked once per store (Relay below). */
  relay?(): Relay | null;
}

/**
 * A lean charge (a positive cost, no hold, idempotency key or metadata) as one process hands it to
 * another over a relay: what the writing process needs to run it exactly as the caller would have.
 */
export interface RelayedCharge
  extends Pick<CounterCall, 'by' | 'value' | 'rid' | 'nowMs' | 'micros' | 'scope' | 'tokenGrants'> {
  /**
   * What is left of the caller's deadline (ms), on no clock: the leader counts it from when the call
   * arrives, so two machines' clocks need not agree on it.
   */
  readonly ttlMs: number;
}

/** `forward`'s answer when no process listened: nothing was sent, so the caller charges itself. */
export const NOT_DELIVERED: unique symbol = Symbol('agentkey: not delivered');

/**
 * Cross-process coalescing of a hot row (the Redis one: `redisCounter`). When several processes
 * charge one row, each of them writing it makes one commit per process per round, in turn on the
 * row's lock; with a relay one process leads the row, the others hand it their charges, and its
 * batches carry every process's calls in one statement. A relay only moves calls: the leader runs
 * them through its own store, under the caller's request id, clock and deadline.
 */
export interface Relay {
  /** The process leading `row`, when it is another one this process can reach; else undefined. */
  leaderOf(row: string): string | undefined;
  /** A statement of this process found `row` held by another process: lead the row, or learn who does. */
  contended(row: string): void;
  /**
   * Sends `charge` to `leader`; resolves with the leader's answer (undefined: no such credential),
   * or NOT_DELIVERED when no process received it. Rejects when it may have been received but no
   * answer came within `charge.ttlMs`: the caller treats the call as in doubt.
   */
  forward(
    leader: string,
    row: string,
    charge: RelayedCharge,
  ): Promise<CounterRow | undefined | typeof NOT_DELIVERED>;
  /** Where charges other processes forward to this one are run. */
  serve(handler: (row: string, charge: unknown) => Promise<CounterRow | undefined>): void;
  /** Optional: stop listening (the store's close). */
  close?(): void;
}
