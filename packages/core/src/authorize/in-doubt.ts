import { randomFillSync } from 'node:crypto';
import { AgentKeyTimeoutError, mayRetry, neverSent, within } from '../db/deadline.js';
import { reportSafely, type StoreReporter } from '../db/pool-errors.js';
import type { Runner, Statement } from '../db/queryable.js';

const entropy = Buffer.alloc(16 * 256);
let used = entropy.length;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * A UUIDv7 (RFC 9562): 48 bits of ms time, then random bits. Claims (sql/requests.ts) are keyed
 * by it: time-ordered ids land at the right edge of the primary key's btree, as a sequence would,
 * instead of on a random page each (a v4 UUID), which is most of what a claim costs.
 */
function uuidv7(): string {
  if (used === entropy.length) {
    randomFillSync(entropy);
    used = 0;
  }
  const b = entropy.subarray(used, used + 16);
  used += 16;
  let ms = Date.now();
  for (let i = 5; i >= 0; i--) {
    b[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = (i: number) => HEX[b[i]!]!;
  return `${h(0)}${h(1)}${h(2)}${h(3)}-${h(4)}${h(5)}-${h(6)}${h(7)}-${h(8)}${h(9)}-${h(10)}${h(11)}${h(12)}${h(13)}${h(14)}${h(15)}`;
}

/** What the resolver needs of the store. */
export interface InDoubtContext {
  hot: Runner;
  voidRequest: Statement;
  pruneRequests: string;
  ledger: boolean;
  timeoutMs: number;
  /** The store's clock: claims are stamped with it, so voids and pruning read it too. */
  now: () => Date;
  report: StoreReporter;
  prune: (text: string, params: unknown[]) => Promise<unknown>;
}

/** First retry soon after the failure, then back off to this. */
const FIRST_DELAY_MS = 50;
const MAX_DELAY_MS = 5000;
/** About an hour of a database that never answers; then the call is reported and left in doubt. */
const MAX_ATTEMPTS = 750;
const PRUNE_EVERY_MS = 3_600_000;
/** A long outage must not grow memory without bound: past this, new ids are reported, not kept. */
const MAX_PENDING = 100_000;

export interface InDoubtOutcomes {
  not_committed: number;
  voided: number;
  resolved: number;
  stands: number;
}

/**
 * Calls answered `unavailable` whose statement may have committed, by request id, resolved in the
 * background once the database answers again (sql/requests.ts `void_request`): never on the
 * request path, one statement per id, with bounded retries. Held in memory: a process that dies
 * leaves its in-doubt calls as they are (README, "Under database faults").
 */
export class InDoubt {
  private readonly pending = new Map<string, number>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running: Promise<void> | null = null;
  private delay = FIRST_DELAY_MS;
  private pruner: ReturnType<typeof setInterval> | null = null;
  readonly outcomes: InDoubtOutcomes = { not_committed: 0, voided: 0, resolved: 0, stands: 0 };

  constructor(private readonly ctx: InDoubtContext) {}

  /** A fresh request id for one call. */
  static id(): string {
    return uuidv7();
  }

  get size(): number {
    return this.pending.size;
  }

  add(rid: string): void {
    if (this.pending.size >= MAX_PENDING) {
      reportSafely(
        this.ctx.report,
        new Error(`more than ${MAX_PENDING} calls in doubt`),
        `request ${rid} left in doubt`,
      );
      return;
    }
    if (!this.pending.has(rid)) this.pending.set(rid, 0);
    this.schedule(FIRST_DELAY_MS);
  }

  /** Resolves what it can now; resolves when a round has run (the database may still be down). */
  async drain(): Promise<number> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.running ??= this.round().finally(() => {
      this.running = null;
    });
    await this.running;
    if (this.pending.size > 0) this.schedule(this.delay);
    return this.pending.size;
  }

  /** Claims are kept a day; every process prunes older ones hourly, in the background. */
  startPruning(): void {
    if (this.pruner) return;
    this.pruner = setInterval(() => {
      const { ctx } = this;
      within(
        // Never an id still held here: its void must still find the claim (or tombstone it).
        ctx.prune(ctx.pruneRequests, [ctx.now().toISOString(), [...this.pending.keys()]]),
        Date.now() + ctx.timeoutMs,
        ctx.timeoutMs,
      ).catch((error: unknown) => reportSafely(ctx.report, error, 'pruning old request claims'));
    }, PRUNE_EVERY_MS);
    this.pruner.unref?.();
  }

  private schedule(ms: number): void {
    if (this.timer || this.running) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.drain();
    }, ms);
    this.timer.unref?.();
  }

  private async round(): Promise<void> {
    const { ctx } = this;
    for (const [rid, attempts] of [...this.pending]) {
      try {
        const result = await within(
          ctx.hot(ctx.voidRequest, [rid, ctx.now().toISOString(), ctx.ledger, ctx.timeoutMs]),
          Date.now() + ctx.timeoutMs,
          ctx.timeoutMs,
        );
        const outcome = result.rows[0]?.outcome as keyof InDoubtOutcomes;
        if (outcome in this.outcomes) this.outcomes[outcome]++;
        this.pending.delete(rid);
        this.delay = FIRST_DELAY_MS;
      } catch (error) {
        if (attempts + 1 >= MAX_ATTEMPTS) {
          this.pending.delete(rid);
          reportSafely(ctx.report, error, `resolving in-doubt request ${rid} (gave up)`);
        } else this.pending.set(rid, attempts + 1);
        // The database is not answering: stop this round and back off.
        this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
        return;
      }
    }
  }
}

/**
 * One store call under its deadline: `attempt` runs, and once more inside the deadline when its
 * failure allows (deadline.ts mayRetry) — with the same request id, so a first attempt that did
 * commit makes the second fail rather than charge twice. A call that fails or times out is handed
 * to the resolver by its request id: whatever it may have committed is voided. So is one whose
 * second attempt is answered but did not pass (`passed`): a refusal then (the budget the first
 * attempt used up) must not leave the first attempt's charge standing.
 */
export async function guarded<T>(
  inDoubt: InDoubt | null,
  rid: string | null,
  deadlineAt: number,
  timeoutMs: number,
  attempt: () => Promise<T>,
  passed: (result: T) => boolean,
): Promise<T> {
  // Whether an attempt so far may have reached the database (and committed).
  let sent = false;
  const doubt = () => {
    if (sent && rid !== null && inDoubt) inDoubt.add(rid);
  };
  try {
    return await within(attempt(), deadlineAt, timeoutMs);
  } catch (error) {
    sent = !neverSent(error);
    if (!mayRetry(error) || Date.now() >= deadlineAt) {
      doubt();
      throw error;
    }
  }
  try {
    const second = await within(attempt(), deadlineAt, timeoutMs);
    if (!passed(second)) doubt();
    return second;
  } catch (error) {
    sent ||= !neverSent(error);
    doubt();
    // The request id is claimed already: the first attempt committed and its answer was lost. It
    // is voided like any lost answer, and the caller hears a timeout, not the claim's constraint.
    if (claimConflict(error)) throw new AgentKeyTimeoutError(timeoutMs);
    throw error;
  }
}

/** A unique violation on a claims table's primary key (sql/requests.ts). */
function claimConflict(error: unknown): boolean {
  const e = error as { code?: unknown; constraint?: unknown } | null;
  return e?.code === '23505' && typeof e.constraint === 'string' && e.constraint.endsWith('_requests_pkey');
}
