import { reportSafely, type StoreReporter } from '@agentkey/core';

/** Drops a promise's rejection (the caller learns of the failure another way). */
export const ignore = () => {};

/** While Redis stays down, a reminder at most this often (the first failure is told at once). */
export const REPORT_EVERY_MS = 30_000;

/** Between two reports of one context, even when Redis answered in between (a flapping Redis). */
export const MIN_GAP_MS = 5_000;

const COUNTER = 'counter.redis';

/**
 * What Redis failed at, told to the stores' `onError` without a flood: the first failure after
 * Redis answered, then at most one every REPORT_EVERY_MS while it keeps failing. A failure never
 * fails a call (it takes the PostgreSQL path, or is charged in its own process); this is how an
 * operator learns that calls are taking it, and why.
 */
export class Outages {
  /** Each store's sink, with how many stores bound it (stores on the default console share one). */
  private readonly sinks = new Map<StoreReporter, number>();
  /** By context: when it was last told, and whether Redis answered since (then the next is told at once). */
  private readonly told = new Map<string, { at: number; answeredSince: boolean }>();

  /** A store's sink; each store bound to the counter gets every report once. */
  add(report: StoreReporter | undefined): void {
    if (typeof report === 'function') this.sinks.set(report, (this.sinks.get(report) ?? 0) + 1);
  }

  /** A store that added `report` closed: it hears no more, unless another store added it too. */
  remove(report: StoreReporter): void {
    const n = this.sinks.get(report) ?? 0;
    if (n > 1) this.sinks.set(report, n - 1);
    else this.sinks.delete(report);
  }

  /**
   * A counter call started at `startedAt` (ms) was answered: the next failure is a new outage,
   * told at once (MIN_GAP_MS after the last report at the soonest). A call already out when the
   * last failure was told says nothing of Redis since.
   */
  answered(startedAt: number): void {
    const counter = this.told.get(COUNTER);
    if (counter && startedAt > counter.at) counter.answeredSince = true;
  }

  /** A counter call failed or passed `timeoutMs`; Redis is skipped for `retryMs`. */
  failed(cause: unknown, timeoutMs: number, retryMs: number): void {
    this.tell(
      cause,
      `Redis failed or passed timeoutMs (${timeoutMs} ms): calls take the PostgreSQL path for retryMs (${retryMs} ms), then try Redis again`,
      COUNTER,
    );
  }

  /**
   * The relay could not reach Redis (`what`: its subscription, a lead look-up, a publish of calls
   * or of answers): the calls it would have carried are charged by the processes that took them.
   * Told at most every REPORT_EVERY_MS.
   */
  relayFailed(cause: unknown, what: string): void {
    this.tell(
      cause,
      `the relay's ${what} failed: the calls it would carry are charged by the processes that took them`,
      'counter.relay',
    );
  }

  private tell(cause: unknown, what: string, context: string): void {
    try {
      const now = Date.now();
      const last = this.told.get(context);
      if (last && now - last.at < (last.answeredSince ? MIN_GAP_MS : REPORT_EVERY_MS)) return;
      this.told.set(context, { at: now, answeredSince: false });
      const error = new RedisCounterError(what, cause);
      for (const report of this.sinks.keys()) reportSafely(report, error, context);
    } catch {
      // Telling must never fail the call that failed (an odd thrown value, say).
    }
  }
}

/**
 * A Redis failure the counter absorbed: `message` says what it did instead; `cause` is a copy of
 * the error (Redis's or the client's, or the counter's own for a call past `timeoutMs`) with its
 * name, message, code and stack only.
 */
export class RedisCounterError extends Error {
  constructor(message: string, cause: unknown) {
    super(`agentkey redis: ${message}`, { cause: bare(cause) });
    this.name = 'RedisCounterError';
  }
}

/**
 * `error` without what a client hung on it: ioredis puts the failed command's arguments on an
 * error reply (`command`), and those carry a relay message or a mirror's fields. A log of the
 * report must never hold them.
 */
function bare(error: unknown): Error {
  const source = error instanceof Error ? error : new Error(String(error));
  // A failed connect to every address (Node's autoSelectFamily) has no message of its own.
  const inner = (source as { errors?: unknown }).errors;
  const message =
    source.message || (Array.isArray(inner) ? inner.map((e) => (e as Error)?.message).join('; ') : '');
  const copy = new Error(message);
  copy.name = source.name;
  if (source.stack) copy.stack = source.stack;
  const code = (source as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') Object.assign(copy, { code });
  return copy;
}
