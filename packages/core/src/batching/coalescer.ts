/** How far concurrent calls of one kind are folded into shared statements. */
export interface CoalescerLimits {
  /** Statements of this kind running at once; a call waits only while this many are in flight. */
  maxInFlight: number;
  /** Calls one statement carries at most. */
  maxBatch: number;
}

/** An answer that sends the call round again, in the next batch (its key was busy). */
export const BUSY: unique symbol = Symbol('busy');

/** How many times a call may come back BUSY before it is answered undefined. */
const MAX_ROUNDS = 5;

/**
 * A statement running this long (a lone call waiting on its key's row lock, a database stall)
 * stops counting against `maxInFlight`, so it holds up nothing but its own calls.
 */
const SLOW_MS = 100;

export interface CoalescerOptions<I> {
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
}

interface Pending<I, O> {
  item: I;
  rounds: number;
  resolve: (out: O | undefined) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit on the request path. Each call is queued; at the end of the current event-loop turn,
 * and whenever a statement finishes, the queue goes out as batches while fewer than `maxInFlight`
 * are running. A batch carries at most `maxBatch` calls and, when `keyOf` is given, at most one
 * call per key. Under light load every call
 * runs alone and at once; under heavy load one statement, one round trip and one commit serve
 * many calls.
 *
 * `run` answers each item by position: a value, undefined (the statement did not take it), or BUSY
 * (try again in the next batch, at most a few times, then undefined). If it throws, every call of
 * that batch rejects with the error, and nothing else is affected — unless `retryAlone` says the
 * error may be one call's fault: then each call of the batch runs once more, alone.
 */
export class Coalescer<I, O> {
  private queue: Pending<I, O>[] = [];
  /** Statements running that still count against `maxInFlight`. */
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly run: (items: readonly I[]) => Promise<ReadonlyArray<O | undefined | typeof BUSY>>,
    private readonly limits: CoalescerLimits,
    private readonly options: CoalescerOptions<I> = {},
  ) {}

  submit(item: I): Promise<O | undefined> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, rounds: 0, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // Calls answered in this turn (one batch resolves many at once) join the same batch.
        setImmediate(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    const { deadlineOf, expired } = this.options;
    if (deadlineOf && this.queue.length > 0) {
      const now = Date.now();
      this.queue = this.queue.filter((p) => {
        if (deadlineOf(p.item) > now) return true;
        p.reject(expired ? expired() : new Error('deadline passed while queued'));
        return false;
      });
    }
    while (this.inFlight < this.limits.maxInFlight && this.queue.length > 0) {
      const batch: Pending<I, O>[] = [];
      const later: Pending<I, O>[] = [];
      const keys = new Set<string>();
      for (const pending of this.queue) {
        const key = this.options.keyOf?.(pending.item);
        if (batch.length >= this.limits.maxBatch || (key !== undefined && keys.has(key))) later.push(pending);
        else {
          if (key !== undefined) keys.add(key);
          batch.push(pending);
        }
      }
      this.queue = later;
      this.inFlight++;
      void this.send(batch);
    }
  }

  private async send(batch: Pending<I, O>[]): Promise<void> {
    let counted = true;
    const slow = setTimeout(() => {
      counted = false;
      this.inFlight--;
      this.flush();
    }, SLOW_MS);
    slow.unref?.();
    try {
      const outs = await this.run(batch.map((p) => p.item));
      const again: Pending<I, O>[] = [];
      for (let i = 0; i < batch.length; i++) {
        const pending = batch[i]!;
        const out = outs[i];
        if (out !== BUSY) pending.resolve(out);
        else if (++pending.rounds < MAX_ROUNDS) again.push(pending);
        else pending.resolve(undefined);
      }
      // First in the queue: they were waiting before anything queued since.
      if (again.length > 0) this.queue = [...again, ...this.queue];
    } catch (error) {
      if (batch.length > 1 && this.options.retryAlone?.(error) === true) {
        for (const pending of batch) void this.alone(pending);
      } else for (const pending of batch) pending.reject(error);
    } finally {
      clearTimeout(slow);
      if (counted) this.inFlight--;
      this.flush();
    }
  }

  /** One call of a failed batch, in a statement of its own (outside `maxInFlight`: this is rare). */
  private async alone(pending: Pending<I, O>): Promise<void> {
    try {
      const [out] = await this.run([pending.item]);
      pending.resolve(out === BUSY ? undefined : out);
    } catch (error) {
      pending.reject(error);
    }
  }
}
