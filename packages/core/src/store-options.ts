import type { ChangeFeed } from './changes/feed.js';
import type { Counter } from './counter/port.js';
import type { Queryable } from './db/queryable.js';

/** `new AgentKey(options)`: the store's options (each checked by the constructor, input/options.ts). */
export interface AgentKeyOptions {
  /** A pg Pool, or anything with its `query(text, params)`. The constructor never calls it. */
  pool: Queryable;
  /** The keys table, optionally `schema.table`. Validated as an identifier. */
  tableName?: string;
  /** Prefix of minted keys. */
  keyPrefix?: string;
  /** Scopes keys may carry; `admin` only when listed. Unset: any well-formed scope. */
  validScopes?: readonly string[];
  /**
   * Use named prepared statements on the request path (default: on for pg Pools and Clients).
   * Turn off behind a pooler that cannot keep them, such as PgBouncer in transaction mode before 1.21.
   * Unset, the first statement such a pooler loses switches the store to plain statements (reported
   * once through `onError`); `true` fails those calls with `PreparedStatementLostError` instead.
   */
  preparedStatements?: boolean;
  /**
   * How long this process may reuse a row's descriptive fields (account, user, name, scopes list,
   * period) between requests, in ms; at most 1000, 0 to disable. Decisions never use them: every
   * request is checked against the row itself.
   */
  descriptorTtlMs?: number;
  /**
   * Carries admin changes (revoke, update, budget, account) between this deployment's processes,
   * e.g. `redisChanges({ redis })` from @agentkey/redis: every process drops its cached
   * descriptors and verifier answers for the row at once. Without it, or when a publication is
   * lost, they follow the row within descriptorTtlMs (≤ 1 s); decisions read the row either way.
   */
  changes?: ChangeFeed;
  /**
   * Append every charge, hold, settle and release to the ledger table in the same transaction as
   * the counter (default true). Off, charges still land exactly; only the history is not kept.
   */
  ledger?: boolean;
  /**
   * Group commit (default on, `{ maxInFlight: 2, maxBatch: 64 }`; `maxInFlight` 1 with a
   * `counter`, whose admissions arrive in waves that one statement each carries best): concurrent
   * lean charges, reserves, settles and releases share statements — one round trip and one commit
   * for many calls, one write to a row for all the calls on it — whenever `maxInFlight` statements
   * of their kind are already running. A lone call runs at once in its own statement, as before. Every call
   * keeps its own outcome, decided on its own key's (and account's) newest row. `false`: every call
   * runs its own statement.
   */
  batching?: false | { maxInFlight?: number; maxBatch?: number };
  /**
   * Every request-path call — authorize, reserve, settle, release, validate, trackUsage, the
   * gate's — answers within this many ms (default 3000; 50 to 60000), `unavailable` (or a
   * rejection, for the 0.2.0 calls) if the store has not, whatever the pool's own settings.
   * Waiting in a batch's queue counts. Row-lock waits of the statements sent are bounded by the
   * same value on the server (lock_timeout). A call that failed or timed out may still have
   * committed: it is voided in the background once the database answers again (README, "Under
   * database faults").
   */
  timeoutMs?: number;
  /**
   * Receives failures nobody awaits: the pool's `error` events (a server restart drops idle
   * connections) and the in-doubt resolver's give-ups. Default: console.error.
   */
  onError?: (error: unknown, context: string) => void;
  /** The clock. Tests set it instead of sleeping. */
  now?: () => Date;
  /**
   * A write-through counter (`redisCounter`, @agentkey/redis): authorize and reserve are admitted
   * by it, then made durable in PostgreSQL, then acknowledged; a refusal from a mirror it trusts
   * costs PostgreSQL nothing. Down, slow or stale, it only sends calls to PostgreSQL.
   */
  counter?: Counter;
  /**
   * Counts this process's refusals (authorize, reserve and the gate's, whether PostgreSQL, the
   * counter or the arguments refused) by code in memory, and adds them every `flushMs` (default
   * 10000) to the `<table>_refusals` table in one upsert per flush, per minute and code, pruning
   * minutes older than `retentionDays` (default 30). A failed flush keeps its counts for the next
   * one; `close()` flushes. `false`: nothing is counted or written. The console's overview reads it.
   */
  refusalTally?: false | { flushMs?: number; retentionDays?: number };
}
