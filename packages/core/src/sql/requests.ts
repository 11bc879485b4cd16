import type { TableNames } from './identifier.js';
import type { EngineNames } from './names.js';

/**
 * In-doubt calls: every charge, hold, settle and release carries a request id (a UUID the library
 * makes per call). The statement that commits the call's effect also inserts a claim row for that
 * id — a plain INSERT, after the write and only when the write happened — into a table whose
 * primary key is the id. A call whose answer was lost (a timeout, a dropped connection) is later
 * resolved by `void_request`, which inserts a tombstone for the same id:
 *
 * - the tombstone goes in: the call's statement never committed, and now never can — if it is
 *   still running, or runs later (a frozen server resuming, a query still queued in the pool),
 *   its claim INSERT hits the tombstone and the whole statement rolls back;
 * - the tombstone conflicts: the call committed; its claim row says what it did, and a
 *   compensating ledger entry (`void`) reverses it in the same transaction as the counters.
 *
 * A unique index decides this, not a snapshot: INSERT … ON CONFLICT waits for an in-progress
 * conflicting insert and sees a committed one whatever the statement's snapshot. A re-check such
 * as `NOT EXISTS (…)` in an UPDATE's WHERE would read an old snapshot and let a late commit through.
 */
export function requestsTable(t: TableNames): string {
  return t.derived('_requests');
}

/** A counter row's period mark, as claims record it (row variable or table alias `v`). */
export function mark(v: string): string {
  const c = v ? `${v}.` : '';
  return markOf(`${c}budget_resets`, `${c}budget_reset_at`);
}

/** The mark of a counter with this reset count and reset date (an admin reset records what it zeroed). */
export function markOf(resets: string, resetAt: string): string {
  return `(${resets} || '@' || COALESCE((date_part('epoch', ${resetAt}) * 1000)::text, '-'))`;
}

/**
 * Whether a counter (reset count `resets`, reset date `resetAt`, `period`) is still in the period
 * the mark `claimMark` of a claim made at `at` names. A row with no
 * reset date left had its period removed: that kept the spend unless it also counted a restart,
 * so only the count is compared. A claim with no reset date on a row that has one now: the date
 * was filled in without zeroing (a hand-written row, sql/admin.ts periodSets); the charge is still
 * counted while the row's current period began no later than the charge. (A month counts as 28
 * days here: a shorter window only ever refuses a refund, never grants one after a roll.)
 */
function samePeriod(claimMark: string, resets: string, resetAt: string, period: string, at: string): string {
  const count = `split_part(${claimMark}, '@', 1) = ${resets}::text`;
  const length = `(CASE ${period} WHEN 'week' THEN interval '7 days' WHEN 'month' THEN interval '28 days'
        ELSE interval '1 day' END)`;
  return `(${claimMark} IS NULL OR ${claimMark} = ${markOf(resets, resetAt)}
      OR (${resetAt} IS NULL AND ${count})
      OR (split_part(${claimMark}, '@', 2) = '-' AND ${count} AND ${resetAt} - ${length} <= ${at}))`;
}

/** A RETURNING column: the written row's period mark, for the claim of the same statement. */
export const MARK = `${mark('')} AS ak_mark`;

/**
 * The claims' rules as functions for the engine (sql/functions/): a row's period mark, and
 * whether a counter is still in the period a claim's mark names. STABLE `LANGUAGE sql`, inlined.
 */
export function claimsSql(t: TableNames): string {
  return `CREATE OR REPLACE FUNCTION ${t.derived('_mark')}(p_resets integer, p_reset_at timestamptz) RETURNS text
  LANGUAGE sql STABLE AS $f$ SELECT ${markOf('p_resets', 'p_reset_at')} $f$;
CREATE OR REPLACE FUNCTION ${t.derived('_same_period')}(p_mark text, p_resets integer, p_reset_at timestamptz,
  p_period text, p_at timestamptz) RETURNS boolean LANGUAGE sql STABLE
  AS $f$ SELECT ${samePeriod('p_mark', 'p_resets', 'p_reset_at', 'p_period', 'p_at')} $f$;`;
}

/** The resolver's statement: $1 request id, $2 now, $3 ledger on, $4 lock timeout (ms). */
export function voidRequestSql(n: EngineNames): string {
  return `SELECT ${n.fn('void_request')}($1::uuid, $2::timestamptz, $3::boolean, $4::integer) AS outcome`;
}

/** Claims and tombstones older than this are pruned: no call stays in doubt that long. */
const CLAIM_RETENTION = `interval '1 day'`;

/** Claims deleted per prune statement. */
const PRUNE_CHUNK = 10_000;

/** Deletes old claims in bounded chunks ($1 the store's now, $2 ids still in doubt); returns how many went. */
export function pruneRequestsSql(t: TableNames): string {
  const r = requestsTable(t);
  return `WITH gone AS (DELETE FROM ${r} WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM ${r} WHERE at < $1::timestamptz - ${CLAIM_RETENTION} AND request_id <> ALL($2::uuid[])
    LIMIT ${PRUNE_CHUNK})) RETURNING 1)
  SELECT count(*)::int AS n FROM gone`;
}

/**
 * The SQL prefix bounding a statement's row-lock waits on the server: a CTE whose InitPlan sets
 * lock_timeout for this transaction before the first lock is taken (`guard` must appear in the
 * locking statement's WHERE). statement_timeout cannot be bounded this way: PostgreSQL arms it
 * when the statement starts, so a change inside the statement only reaches later statements.
 */
export interface LockBound {
  cte: string;
  guard: string;
}

export function lockBound(lockMs: number): LockBound {
  return {
    cte: `ak_cfg AS MATERIALIZED (SELECT set_config('lock_timeout', '${Math.trunc(lockMs)}ms', true) AS ak_v)`,
    guard: `(SELECT ak_v FROM ak_cfg) IS NOT NULL`,
  };
}

/**
 * How a batch statement locks its rows. `skip`: only rows nobody holds (FOR UPDATE SKIP LOCKED; the
 * others come back `busy`), so one slow lock holder stalls none of the calls sharing the
 * statement. `wait`: every row, waited for within the lock bound, in `order` — the order every
 * writer takes (keys in id order, then accounts) — so two waiting statements cannot deadlock.
 *
 * A `wait` statement serves a row another process is writing too (a busy row's lane), so it
 * commits without waiting for its WAL flush (synchronous_commit off, for its own transaction
 * only): its row locks are free for the other process's statement while the disk flushes,
 * instead of after. Nothing is acknowledged before it is durable: the caller runs FLUSH_SQL
 * before answering (batching/batch.ts), and a commit that a crash took before that flush was
 * never acknowledged, and is resolved as any lost answer (in doubt, voided: its claim is gone, so
 * the tombstone goes in). A writer that read it and committed durably made it durable too: WAL
 * flushes in order.
 */
export interface BatchLocks {
  /** Prefixes the statement's first CTE. */
  cte: string;
  /** Appended to the first locking scan's WHERE. */
  guard: string;
  lock(order: string): string;
}

export function batchLocks(bound: LockBound, wait: boolean): BatchLocks {
  return wait
    ? {
        cte: `ak_async AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true) AS ak_a), ${bound.cte}, `,
        guard: ` AND (SELECT ak_a FROM ak_async) IS NOT NULL AND ${bound.guard}`,
        lock: (order) => `ORDER BY ${order} FOR UPDATE`,
      }
    : { cte: '', guard: '', lock: () => 'FOR UPDATE SKIP LOCKED' };
}

/**
 * A transaction that writes WAL and commits durably: when it returns, every commit made before it
 * started is on disk too (WAL is flushed in order). A transactional logical message is the least
 * WAL that takes (no table, no row lock, any wal_level); concurrent ones share one flush.
 */
export const FLUSH_SQL = `SELECT pg_logical_emit_message(true, 'agentkey', '') IS NOT NULL AS flushed`;

/**
 * A batch's `busy` scan looks up its keys a second time, for a row that matched but was not locked
 * (`k`): one index descent and one heap visit a call. When `k` holds a row for every distinct value
 * asked, no such row can exist (a value names one row at most: key_hash and external_subject are
 * unique), so this one-time filter skips the scan. It names the statement's `k` and `$1`.
 */
export const SOME_UNLOCKED =
  '(SELECT count(*) FROM k) < (SELECT count(DISTINCT v) FROM unnest($1::text[]) v)';
