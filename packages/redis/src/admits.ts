import { ADMIT_MANY_MAX } from './script-many.js';

/** ADMIT's KEYS per admission (script.ts). */
const KEYS_PER_ADMIT = 7;

interface Pending {
  /** ADMIT's KEYS then ARGV, made when the batch is sent (so they carry the counter's trust then). */
  args: () => readonly string[];
  resolve: (reply: unknown) => void;
}

interface Group {
  queue: Pending[];
  /** A batch of this group is out: calls queue behind it and go in the next one. */
  inFlight: boolean;
  scheduled: boolean;
}

/**
 * Admissions coalesced: calls that arrive in one turn of the event loop, and every call that
 * arrives while a batch is out, go to Redis in one script call (ADMIT_MANY), one batch at a
 * time per group — one group on a single node, one per hash tag on a Cluster, whose script keys
 * must share a slot. Under light load a call goes alone at the next turn; under heavy load one
 * script call, one round trip and one INFO serve many, and the calls it admits reach PostgreSQL
 * together, in one batch statement.
 *
 * `beforeSend` runs right before a batch is written (the counter flushes queued settles there):
 * on the connection a process's settles still go before its next admission.
 */
export class AdmitQueue {
  private readonly groups = new Map<string, Group>();

  constructor(
    private readonly cluster: boolean,
    /** Runs one batch: ADMIT's arguments for one call, ADMIT_MANY's (numkeys first) for several. */
    private readonly send: (args: string[], many: boolean) => Promise<unknown>,
    private readonly beforeSend: () => void,
  ) {}

  /** Queues one admission; resolves with its script answer, or undefined (Redis not asked or failed). */
  add(tag: string, args: () => readonly string[]): Promise<unknown> {
    const name = this.cluster ? tag : '';
    let group = this.groups.get(name);
    if (!group) {
      group = { queue: [], inFlight: false, scheduled: false };
      this.groups.set(name, group);
    }
    const g = group;
    return new Promise((resolve) => {
      g.queue.push({ args, resolve });
      if (g.inFlight || g.scheduled) return;
      g.scheduled = true;
      // Calls made in this turn (one PostgreSQL batch answers many at once) join the same batch.
      setImmediate(() => {
        g.scheduled = false;
        this.next(name, g);
      });
    });
  }

  /** Sends the group's next batch, unless one is out; when it is answered, the next. */
  private next(name: string, g: Group): void {
    if (g.inFlight) return;
    if (g.queue.length === 0) {
      if (!g.scheduled) this.groups.delete(name);
      return;
    }
    const batch = g.queue.splice(0, ADMIT_MANY_MAX);
    g.inFlight = true;
    const answered = (replies: readonly unknown[] | null) => {
      g.inFlight = false;
      batch.forEach((p, i) => {
        p.resolve(replies ? replies[i] : undefined);
      });
      this.next(name, g);
    };
    let running: Promise<unknown>;
    try {
      this.beforeSend();
      const made = batch.map((p) => p.args());
      running =
        made.length === 1
          ? this.send([...made[0]!], false).then((reply) => [reply])
          : this.send(manyArgs(made), true);
    } catch (error) {
      running = Promise.reject(error);
    }
    running.then(
      (replies) => answered(Array.isArray(replies) && replies.length === batch.length ? replies : null),
      () => answered(null),
    );
  }
}

/** ADMIT_MANY's arguments: the key count, every call's KEYS, then every call's ARGV. */
function manyArgs(made: ReadonlyArray<readonly string[]>): string[] {
  const keys: string[] = [];
  const argv: string[] = [];
  for (const args of made) {
    keys.push(...args.slice(0, KEYS_PER_ADMIT));
    argv.push(...args.slice(KEYS_PER_ADMIT));
  }
  return [String(keys.length), ...keys, ...argv];
}
