import { DescriptorCache } from './authorize/descriptor-cache.js';
import { InDoubt } from './authorize/in-doubt.js';
import { Changes } from './changes/changes.js';
import { type Change, checkChangeFeed } from './changes/feed.js';
import { checkCounter, checkRelay } from './counter/check.js';
import { CounterFront } from './counter/front.js';
import type { Relay } from './counter/port.js';
import { checkTimeout } from './db/deadline.js';
import { consoleStoreReporter, watchPoolErrors } from './db/pool-errors.js';
import { preparedQuery, type Queryable, type Runner } from './db/queryable.js';
import { checkDescriptorTtl, checkKeyPrefix, checkOnError, checkPool } from './input/options.js';
import { checkScopes } from './input/values.js';
import { adminStatements } from './sql/admin.js';
import type { Selector } from './sql/columns.js';
import { type TableNames, tableNames } from './sql/identifier.js';
import { engineNames } from './sql/names.js';
import { type Statements, statements } from './sql/statements.js';
import { checkTally } from './tally/options.js';
import { RefusalTally } from './tally/refusal-tally.js';
import type { AgentKeyOptions } from './types.js';

/** What the store's modules share: built once per `AgentKey` (`storeContext`), never exported from the package. */
export interface StoreContext {
  readonly pool: Queryable;
  /** The request path: prepared statements where the client allows. */
  readonly hot: Runner;
  readonly tables: TableNames;
  readonly sql: Statements;
  readonly admin: ReturnType<typeof adminStatements>;
  readonly ledger: boolean;
  readonly now: () => Date;
  readonly descriptors: DescriptorCache;
  /** Admin changes: drop cached descriptors here and, through the `changes` feed, everywhere. */
  readonly changes: Changes;
  /** Every store call's deadline (ms): its answer comes by then, `unavailable` if need be. */
  readonly timeoutMs: number;
  /** Calls whose answer was lost, voided once the database answers (in-doubt.ts). */
  readonly inDoubt: InDoubt;
  /** Scopes rows may carry (the `validScopes` option); null: any well-formed scope. */
  readonly validScopes: ReadonlySet<string> | null;
  /** Prefix of minted keys. */
  readonly keyPrefix: string;
  /** The write-through counter in front of PostgreSQL (the `counter` option), or null. */
  readonly counter: CounterFront | null;
  /** The counter's relay for hot rows (counter/port.ts Relay), or null. */
  readonly relay: Relay | null;
  /** This process's refusals by code, flushed to the tally table (the `refusalTally` option), or null. */
  readonly tally: RefusalTally | null;
}

/** Checks the options (throwing AgentKeyInputError naming the first bad one) and builds the context. */
export function storeContext(options: AgentKeyOptions): StoreContext {
  checkPool(options);
  const timeoutMs = checkTimeout(options.timeoutMs);
  checkOnError(options.onError);
  const report = options.onError ?? consoleStoreReporter;
  // A pg Pool emits `error` when the server drops an idle connection; unheard, it kills the process.
  watchPoolErrors(options.pool, report);
  const { pool } = options;
  const hot = preparedQuery(pool, options.preparedStatements, report);
  const tables = tableNames(options.tableName ?? 'sdk_api_keys');
  const keyPrefix = checkKeyPrefix(options.keyPrefix);
  const validScopes = options.validScopes
    ? new Set(checkScopes(options.validScopes, null, 'validScopes'))
    : null;
  const now = options.now ?? (() => new Date());
  const ledger = options.ledger ?? true;
  // Row-lock waits are bounded on the server by the same deadline (sql/requests.ts lockBound).
  const sql = statements(tables, ledger, timeoutMs);
  const descriptors = new DescriptorCache(checkDescriptorTtl(options.descriptorTtlMs));
  const counter = checkCounter(options.counter, tables.id, report);
  const front = counter ? new CounterFront(counter, report) : null;
  // A change another process made (or maybe missed ones: null) untrusts the mirrors of its row in
  // this process's counter too — only of a row it knows, so a stranger's change distrusts nothing else.
  const heard = (change: Change | null) =>
    void front?.invalidate(change ? change.target : { all: true }, { onlyIfKnown: change !== null });
  const changes = new Changes(tables.id, descriptors, checkChangeFeed(options.changes), report, heard);
  const { voidRequest, pruneRequests } = sql;
  const prune = (text: string, params: unknown[]) => pool.query(text, params);
  const inDoubt = new InDoubt({ hot, voidRequest, pruneRequests, ledger, timeoutMs, now, report, prune });
  const admin = adminStatements(tables);
  const limits = checkTally(options.refusalTally);
  const tally = limits ? new RefusalTally(pool, engineNames(tables).refusals, limits, now, report) : null;
  return {
    pool,
    hot,
    tables,
    sql,
    admin,
    ledger,
    now,
    descriptors,
    changes,
    timeoutMs,
    inDoubt,
    validScopes,
    keyPrefix,
    counter: front,
    relay: checkRelay(counter),
    tally,
  };
}

/** How a request names its row: a native key's hash or an external subject. */
export interface Lookup {
  by: Selector;
  value: string;
}

/** One charge or hold, its arguments checked (budget/charge.ts `chargeRequest`). */
export interface ChargeRequest {
  op: 'authorize' | 'track' | 'reserve';
  micros: number;
  holdMicros: number;
  holdTtlMs: number;
  scope: string | null;
  tokenGrants: boolean;
  /** The token's own expiry (ms), for external callers: past it, nothing is charged. */
  tokenExpiresMs: number | null;
  idem: string | null;
  /** JSON text for the ledger row. */
  meta: string | null;
  /** This call's request id: its statement claims it when it charges (sql/requests.ts). */
  rid: string;
  /** When the caller gets `unavailable` if the store has not answered (Date.now() ms). */
  deadlineAt: number;
  /**
   * Its row will build a counter's mirror (the counter reserved nothing, or a relay forwarded it):
   * its descriptive fields come from PostgreSQL, never from this process's descriptor cache, so a
   * mirror is never built from a cached copy.
   */
  fresh?: boolean;
}
