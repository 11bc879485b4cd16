import type { Queryable } from '../db/queryable.js';
import { AuthCode } from '../errors/errors.js';
import type { TallyLimits } from './options.js';

const MINUTE = 60_000;
/** Old buckets deleted by one flush at most: the prune's cost stays bounded whatever piled up. */
export const PRUNE_BATCH = 1000;
const CODES: ReadonlySet<string> = new Set(Object.values(AuthCode));

/** `work`'s answer; a refusal counted once, by its code, in `tally` (one map increment). */
export function tallied<R extends { ok: boolean; error?: { code: string } }>(
  tally: RefusalTally | null,
  work: Promise<R>,
): Promise<R> {
  if (!tally) return work;
  return work.then((result) => {
    if (!result.ok && result.error) tally.count(result.error.code);
    return result;
  });
}

type Counts = Map<number, Map<string, number>>;

/**
 * The flush: one statement adding each (minute, code) count to its row, and deleting at most
 * PRUNE_BATCH buckets older than the retention. $1 minutes (epoch ms), $2 codes, $3 counts, $4 the
 * oldest minute kept.
 */
export function flushSql(table: string): string {
  return `WITH pruned AS (
  DELETE FROM ${table} WHERE (minute, code) IN
    (SELECT minute, code FROM ${table} WHERE minute < to_timestamp($4::bigint / 1000.0) ORDER BY minute LIMIT ${PRUNE_BATCH}))
INSERT INTO ${table} AS r (minute, code, count)
SELECT to_timestamp(m / 1000.0), c, n FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS x(m, c, n)
ON CONFLICT (minute, code) DO UPDATE SET count = r.count + EXCLUDED.count`;
}

/**
 * Counts this process's refusals by code in memory (`count`: one map increment, nothing else on
 * the request path) and adds them to the tally table every `flushMs`, in one upsert. A failed
 * flush (database down, table not migrated) keeps its counts for the next one; buckets older than
 * the retention are dropped from memory too, so a long outage costs at most one entry per code and
 * minute of the retention. Nothing here throws into a caller: failures go to `report`, once per
 * run of failures.
 */
export class RefusalTally {
  private pending: Counts = new Map();
  private timer: ReturnType<typeof setInterval> | null = null;
  private inFlight: Promise<void> | null = null;
  private failing = false;
  private closed = false;
  private readonly sql: string;

  constructor(
    private readonly pool: Queryable,
    table: string,
    private readonly limits: TallyLimits,
    private readonly now: () => Date,
    private readonly report: (error: unknown, context: string) => void,
  ) {
    this.sql = flushSql(table);
  }

  /** One refusal with this code, now. */
  count(code: string): void {
    const minute = Math.floor(this.now().getTime() / MINUTE) * MINUTE;
    let bucket = this.pending.get(minute);
    if (!bucket) {
      bucket = new Map();
      this.pending.set(minute, bucket);
      this.dropExpired(minute);
    }
    const key = CODES.has(code) ? code : 'other';
    bucket.set(key, (bucket.get(key) ?? 0) + 1);
    // The timer exists only while a process refuses something, and never keeps it alive.
    if (!this.timer && !this.closed) {
      this.timer = setInterval(() => {
        if (!this.inFlight) void this.flush();
      }, this.limits.flushMs);
      this.timer.unref?.();
    }
  }

  /** Counts not yet written (for tests and for close()'s report). */
  get unflushed(): number {
    let n = 0;
    for (const bucket of this.pending.values()) for (const c of bucket.values()) n += c;
    return n;
  }

  /** Writes what is pending; one flush at a time (a second caller waits for the running one). */
  flush(): Promise<void> {
    if (this.inFlight) return this.inFlight.then(() => this.flush());
    if (this.pending.size === 0) {
      if (this.closed || this.timer === null) return Promise.resolve();
      // Nothing refused for a whole interval: stop the timer until the next refusal.
      clearInterval(this.timer);
      this.timer = null;
      return Promise.resolve();
    }
    const batch = this.pending;
    this.pending = new Map();
    this.inFlight = this.write(batch).finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  /** Stops the timer and flushes, waiting at most `deadlineMs`; what is left is reported, kept. */
  async close(deadlineMs: number): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    let timeout: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<'late'>((resolve) => {
      timeout = setTimeout(() => resolve('late'), deadlineMs);
    });
    const outcome = await Promise.race([this.flush().then(() => 'done' as const), late]);
    clearTimeout(timeout);
    if (outcome === 'late' || this.pending.size > 0) {
      this.report(
        new Error(`agentkey: ${this.unflushed} refusal count(s) not yet written to the tally`),
        'refusal tally: close',
      );
    }
  }

  private async write(batch: Counts): Promise<void> {
    const minutes: number[] = [];
    const codes: string[] = [];
    const counts: number[] = [];
    for (const [minute, bucket] of batch) {
      for (const [code, n] of bucket) {
        minutes.push(minute);
        codes.push(code);
        counts.push(n);
      }
    }
    try {
      await this.pool.query(this.sql, [minutes, codes, counts, this.oldestKept(this.now().getTime())]);
      this.failing = false;
    } catch (error) {
      if (poolEnded(this.pool, error)) {
        // The app ended its pool without ak.close(): no flush can ever succeed, and saying so on
        // every such exit is noise. The counts of this last interval go with the pool.
        this.closed = true;
        if (this.timer) clearInterval(this.timer);
        this.timer = null;
        return;
      }
      this.merge(batch);
      if (!this.failing) this.report(error, 'refusal tally: flush (kept for the next one)');
      this.failing = true;
    }
  }

  /** A failed batch back into what is pending (counts refused meanwhile add up). */
  private merge(batch: Counts): void {
    for (const [minute, bucket] of batch) {
      const into = this.pending.get(minute) ?? new Map<string, number>();
      for (const [code, n] of bucket) into.set(code, (into.get(code) ?? 0) + n);
      this.pending.set(minute, into);
    }
    this.dropExpired(this.now().getTime());
  }

  private oldestKept(nowMs: number): number {
    return Math.floor(nowMs / MINUTE) * MINUTE - this.limits.retentionDays * 86_400_000;
  }

  /** Buckets past the retention would be pruned on arrival: not worth memory either. */
  private dropExpired(nowMs: number): void {
    const oldest = this.oldestKept(nowMs);
    for (const minute of this.pending.keys()) if (minute < oldest) this.pending.delete(minute);
  }
}

/** Whether `pool` was ended by its owner (pg.Pool's `ended`/`ending`, or pg-pool's refusal). */
function poolEnded(pool: unknown, error: unknown): boolean {
  const p = pool as { ended?: unknown; ending?: unknown } | null;
  if (p?.ended === true || p?.ending === true) return true;
  return error instanceof Error && error.message === 'Cannot use a pool after calling end on the pool';
}
