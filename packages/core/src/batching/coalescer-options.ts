/** An answer that sends the call round again, in the next batch (its key was busy). */
export const BUSY: unique symbol = Symbol('busy');

/** How far concurrent calls of one kind are folded into shared statements. */
export interface CoalescerLimits {
  /** Statements of this kind running at once; a call waits only while this many are in flight. */
  maxInFlight: number;
  /** Calls one statement carries at most. */
  maxBatch: number;
}

export interface CoalescerOptions<I, O = unknown> {
  /** At most one call per key in a batch: a repeat waits for the next batch, so it sees the first one's effect. */
  keyOf?: (item: I) => string;
  /**
   * Whether a batch's error may be the fault of one call's data (and the statement wrote nothing):
   * then each call runs again alone, so only the call at fault fails. Unset: the batch fails whole.
   */
  retryAlone?: (error: unknown) => boolean;
  /**
   * When the call's caller stops waiting (Date.now() ms): a call still queued then is never sent,
   * and rejects with `expired()`. Waiting here counts against the call's deadline.
   */
  deadlineOf?: (item: I) => number;
  expired?: () => unknown;
  /**
   * The row a call writes (its key). One batch at a time carries a row: a call on a row that a
   * statement of this coalescer is writing waits for the next batch, so a BUSY answer always
   * means another process (or another statement) holds the row. Such a call then joins the row's
   * lane, with every later call on it while the lane lives (until it is empty, or empty for
   * `laneIdleMs`): one `runWaiting` statement at a time, waiting for the row's lock,
   * carrying every call queued on the row. N processes on one
   * row then take turns on its lock, one statement each, instead of skipping it and falling back
   * to the engine call by call.
   */
  laneOf?: (item: I) => string;
  /**
   * How long an emptied lane waits for its row's next call before it ends (ms; default 0: it ends
   * once empty). For rows that take call after call (a key, an account), not for rows a single call
   * writes (a hold's close): an idle lane keeps one of the few lane slots.
   */
  laneIdleMs?: number;
  /** As `run`, waiting for locked rows (bounded on the server); needed with `laneOf`. */
  runWaiting?: (
    items: readonly I[],
    settled: () => void,
  ) => Promise<ReadonlyArray<O | undefined | typeof BUSY>>;
}
