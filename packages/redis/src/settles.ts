import { SETTLE_MANY_MAX } from './script-many.js';

/** SETTLE's KEYS per settle (script.ts). */
const KEYS_PER_SETTLE = 7;

interface Batch {
  keys: string[];
  argv: string[];
  count: number;
  done: Promise<void>;
  resolve: () => void;
}

/**
 * Settles coalesced: every settle queued in one turn of the event loop goes to Redis in one
 * script call (SETTLE_MANY) per group — one group on a single node, one per hash tag on a
 * Cluster, whose script keys must share a slot. `flush()` sends what is queued at once: the
 * counter calls it before an admission or an invalidation, so that on the connection every
 * settle still goes before the next admission, as one settle per call did (README "How a call
 * goes"). A settle queued is a reservation still counting in flight: never an under-count.
 */
export class SettleQueue {
  private readonly queued = new Map<string, Batch>();
  private scheduled = false;

  constructor(
    private readonly cluster: boolean,
    /** Runs one batch: SETTLE's arguments for one settle, SETTLE_MANY's (numkeys first) for several. */
    private readonly send: (args: string[], many: boolean) => Promise<unknown>,
  ) {}

  /** Queues one settle (SETTLE's KEYS then ARGV); resolves once its batch was answered or given up. */
  add(tag: string, args: readonly string[]): Promise<void> {
    const group = this.cluster ? tag : '';
    let batch = this.queued.get(group);
    if (!batch) {
      let resolve = () => {};
      const done = new Promise<void>((r) => {
        resolve = r;
      });
      batch = { keys: [], argv: [], count: 0, done, resolve };
      this.queued.set(group, batch);
    }
    batch.keys.push(...args.slice(0, KEYS_PER_SETTLE));
    batch.argv.push(...args.slice(KEYS_PER_SETTLE));
    batch.count++;
    const done = batch.done;
    if (batch.count >= SETTLE_MANY_MAX) {
      this.queued.delete(group);
      this.run(batch);
    } else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return done;
  }

  /** Sends every queued batch now. */
  flush(): void {
    this.scheduled = false;
    if (this.queued.size === 0) return;
    const batches = [...this.queued.values()];
    this.queued.clear();
    for (const batch of batches) this.run(batch);
  }

  private run(batch: Batch): void {
    const many = batch.count > 1;
    const args = many
      ? [String(batch.keys.length), ...batch.keys, ...batch.argv]
      : [...batch.keys, ...batch.argv];
    this.send(args, many).then(batch.resolve, batch.resolve);
  }
}
