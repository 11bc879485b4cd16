import { BUSY, type CoalescerLimits, type CoalescerOptions } from './coalescer-options.js';

export { BUSY, type CoalescerLimits, type CoalescerOptions } from './coalescer-options.js';

/** How many times a call may come back BUSY before it is answered undefined. */
const MAX_ROUNDS = 5;

/**
 * A statement running this long (a lone call waiting on its key's row lock, a database stall)
 * stops counting against `maxInFlight`, so it holds up nothing but its own calls.
 */
const SLOW_MS = 100;

/** Rows at most with a lane at once; a BUSY call on any other row goes round again as without lanes. */
const MAX_LANES = 8;

/**
 * How long an empty lane of a coalescer with `laneIdleMs` waits for its row's next call, and how
 * long a lane lives at most (it ends at its first empty moment past that; the next BUSY starts it
 * again). A key another process writes stays contended from one turn to the next: its callers'
 * next calls join the lane at once instead of first skipping the row in a batch and coming back
 * BUSY (a statement and a round trip per turn saved). A lane whose contention ended costs one flush
 * per statement until then (sql/requests.ts batchLocks).
 */
export const LANE_IDLE_MS = 100;
const LANE_MAX_MS = 1000;

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
  /** Rows (laneOf) that a running batch carries, with how many batches carry each. */
  private readonly rowsInFlight = new Map<string, number>();
  /** Rows another transaction held: their calls, in order, sent by `drive` one statement at a time. */
  private readonly lanes = new Map<string, Pending<I, O>[]>();
  /** For a lane waiting empty (drive): wakes it when a call joins. */
  private readonly joined = new Map<string, () => void>();

  constructor(
    /** `settled`, when `run` calls it: its statement no longer holds its rows (see send). */
    private readonly run: (
      items: readonly I[],
      settled: () => void,
    ) => Promise<ReadonlyArray<O | undefined | typeof BUSY>>,
    private readonly limits: CoalescerLimits,
    private readonly options: CoalescerOptions<I, O> = {},
  ) {}

  submit(item: I): Promise<O | undefined> {
    return new Promise((resolve, reject) => {
      const pending = { item, rounds: 0, resolve, reject };
      const row = this.options.laneOf?.(item) as string;
      const lane = this.lanes.get(row);
      if (lane) {
        this.enqueue(row, lane, pending);
        return;
      }
      this.queue.push(pending);
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

  /** The calls of `queue` still within their deadline; the others reject with `expired()`. */
  private live(queue: Pending<I, O>[]): Pending<I, O>[] {
    const { deadlineOf, expired } = this.options;
    if (!deadlineOf || queue.length === 0) return queue;
    const now = Date.now();
    return queue.filter((p) => {
      if (deadlineOf(p.item) > now) return true;
      p.reject(expired ? expired() : new Error('deadline passed while queued'));
      return false;
    });
  }

  /** Splits `queue` into a batch (maxBatch, keyOf, rows not in flight) and the calls left for later. */
  private take(queue: Pending<I, O>[], lane: boolean): [Pending<I, O>[], Pending<I, O>[]] {
    const { keyOf, laneOf } = this.options;
    const batch: Pending<I, O>[] = [];
    const later: Pending<I, O>[] = [];
    const keys = new Set<string>();
    for (const pending of queue) {
      const key = keyOf?.(pending.item);
      const row = lane ? undefined : laneOf?.(pending.item);
      if (
        batch.length >= this.limits.maxBatch ||
        (key !== undefined && keys.has(key)) ||
        (row !== undefined && this.rowsInFlight.has(row))
      )
        later.push(pending);
      else {
        if (key !== undefined) keys.add(key);
        batch.push(pending);
      }
    }
    return [batch, later];
  }

  private flush(): void {
    this.queue = this.live(this.queue);
    while (this.inFlight < this.limits.maxInFlight && this.queue.length > 0) {
      const [batch, later] = this.take(this.queue, false);
      if (batch.length === 0) break;
      this.queue = later;
      this.inFlight++;
      void this.send(batch);
    }
  }

  /** Marks (+1) or clears (-1) the rows of `batch` as carried by a running statement. */
  private carry(batch: Pending<I, O>[], delta: 1 | -1): void {
    const { laneOf } = this.options;
    if (!laneOf) return;
    for (const row of new Set(batch.map((p) => laneOf(p.item)))) {
      const n = (this.rowsInFlight.get(row) ?? 0) + delta;
      if (n > 0) this.rowsInFlight.set(row, n);
      else this.rowsInFlight.delete(row);
    }
  }

  /** A BUSY call to its row's lane, if it may have one; false: it goes round again. */
  private toLane(pending: Pending<I, O>, started: Set<string>): boolean {
    const { laneOf, runWaiting } = this.options;
    if (!laneOf || !runWaiting) return false;
    const row = laneOf(pending.item);
    const lane = this.lanes.get(row);
    if (lane) this.enqueue(row, lane, pending);
    else if (this.lanes.size < MAX_LANES) {
      this.lanes.set(row, [pending]);
      started.add(row);
    } else return false;
    return true;
  }

  private async send(batch: Pending<I, O>[]): Promise<void> {
    let counted = true;
    let carried = true;
    const uncount = () => {
      if (counted) {
        counted = false;
        this.inFlight--;
      }
    };
    const slow = setTimeout(() => {
      uncount();
      this.flush();
    }, SLOW_MS);
    slow.unref?.();
    this.carry(batch, 1);
    // `run` calls this once its statement has released its rows (it waits for the disk after):
    // the next batch on those rows may go now.
    const settled = () => {
      if (carried) {
        carried = false;
        this.carry(batch, -1);
      }
      uncount();
      this.flush();
    };
    try {
      const outs = await this.run(
        batch.map((p) => p.item),
        settled,
      );
      const again: Pending<I, O>[] = [];
      const started = new Set<string>();
      for (let i = 0; i < batch.length; i++) {
        const pending = batch[i]!;
        const out = outs[i];
        if (out !== BUSY) pending.resolve(out);
        else if (this.toLane(pending, started)) continue;
        else if (++pending.rounds < MAX_ROUNDS) again.push(pending);
        else pending.resolve(undefined);
      }
      // First in the queue: they were waiting before anything queued since.
      if (again.length > 0) this.queue = [...again, ...this.queue];
      for (const row of started) void this.drive(row);
    } catch (error) {
      if (batch.length > 1 && this.options.retryAlone?.(error) === true) {
        for (const pending of batch) void this.alone(pending);
      } else for (const pending of batch) pending.reject(error);
    } finally {
      if (carried) this.carry(batch, -1);
      clearTimeout(slow);
      uncount();
      this.flush();
    }
  }

  /** A call joins `row`'s lane, and wakes the lane if it is waiting empty (drive). */
  private enqueue(row: string, lane: Pending<I, O>[], pending: Pending<I, O>): void {
    lane.push(pending);
    this.joined.get(row)?.();
  }

  /**
   * Sends a lane's calls, one waiting statement at a time, until it is empty — or, with
   * `laneIdleMs`, until it has been empty that long (or is past LANE_MAX_MS). Calls on the row
   * still in the main queue join the lane first: behind the ones that came back BUSY.
   */
  private async drive(row: string): Promise<void> {
    const { laneOf, runWaiting } = this.options;
    const lane = this.lanes.get(row)!;
    const [mine, rest] = [
      this.queue.filter((p) => laneOf!(p.item) === row),
      this.queue.filter((p) => laneOf!(p.item) !== row),
    ];
    lane.push(...mine);
    this.queue = rest;
    const ends = Date.now() + LANE_MAX_MS;
    const idle = this.options.laneIdleMs ?? 0;
    for (;;) {
      if (lane.length === 0) {
        if (idle <= 0 || Date.now() >= ends) break;
        await this.join(row, idle); // the lane's length decides, not how the wait ended
        if (lane.length === 0) break;
      }
      // One turn first: calls answered by the last statement, and made again at once, join this one.
      await new Promise((resolve) => setImmediate(resolve));
      const [batch, later] = this.take(this.live(lane), true);
      lane.splice(0, lane.length, ...later);
      if (batch.length === 0) continue;
      // The next statement goes once this one's row locks are free, not once it is answered.
      let free!: () => void;
      const settled = new Promise<void>((resolve) => {
        free = resolve;
      });
      const answered = runWaiting!(
        batch.map((p) => p.item),
        free,
      ).then(
        // BUSY from a waiting statement: the row stopped matching while it waited (the engine's).
        (outs) => {
          for (let i = 0; i < batch.length; i++) {
            const out = outs[i];
            batch[i]!.resolve(out === BUSY ? undefined : out);
          }
        },
        (error) => {
          if (batch.length > 1 && this.options.retryAlone?.(error) === true) {
            for (const pending of batch) void this.alone(pending);
          } else for (const pending of batch) pending.reject(error);
        },
      );
      await Promise.race([settled, answered]);
    }
    this.lanes.delete(row);
  }

  /** Waits until a call joins the (empty) lane of `row` (enqueue), or `ms` have passed. */
  private join(row: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(idle);
        this.joined.delete(row);
        resolve();
      };
      const idle = setTimeout(done, ms);
      idle.unref?.();
      this.joined.set(row, done);
    });
  }

  /** One call of a failed batch, in a statement of its own (outside `maxInFlight`: this is rare). */
  private async alone(pending: Pending<I, O>): Promise<void> {
    try {
      const [out] = await this.run([pending.item], () => {});
      pending.resolve(out === BUSY ? undefined : out);
    } catch (error) {
      pending.reject(error);
    }
  }
}
