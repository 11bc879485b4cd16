import { AgentKeyInputError } from '../errors/errors.js';
import { isDataException, PreparedStatementLostError } from './queryable.js';

/** The default `timeoutMs`: low seconds, well under a typical HTTP client's own timeout. */
export const DEFAULT_TIMEOUT_MS = 3000;

/** Thrown when the store did not answer within the call's deadline. */
export class AgentKeyTimeoutError extends Error {
  override readonly name = 'AgentKeyTimeoutError';
  readonly code = 'timeout';
  /** `sent: false`: the call was still queued at its deadline and never reached the database. */
  constructor(
    timeoutMs: number,
    readonly sent = true,
  ) {
    super(`agentkey: the key store did not answer within ${timeoutMs} ms (timeoutMs)`);
  }
}

/**
 * Whether a failure proves the statement never reached the server: still queued at its deadline,
 * or its connection refused outright (no connection, no statement). Anything else — a timeout, a
 * reset connection, an error from the server — may hide a commit.
 */
export function neverSent(error: unknown): boolean {
  if (error instanceof AgentKeyTimeoutError) return !error.sent;
  // The server refused the statement's name before running it (queryable.ts).
  if (error instanceof PreparedStatementLostError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ECONNREFUSED' || code === 'ENOENT';
}

/** The `timeoutMs` option: a whole number of ms from 50 to 60000. */
export function checkTimeout(timeoutMs: unknown): number {
  if (timeoutMs === undefined) return DEFAULT_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeoutMs) || (timeoutMs as number) < 50 || (timeoutMs as number) > 60_000) {
    throw new AgentKeyInputError('timeoutMs must be a whole number of ms from 50 to 60000', 'timeoutMs');
  }
  return timeoutMs as number;
}

/**
 * `work`, or AgentKeyTimeoutError once `deadlineAt` (Date.now() ms) passes, whichever comes first.
 * The work goes on (a statement already sent cannot be called back); its late outcome is dropped,
 * never answered: the caller has its `unavailable` already.
 */
export function within<T>(work: Promise<T>, deadlineAt: number, timeoutMs: number): Promise<T> {
  const left = deadlineAt - Date.now();
  if (left <= 0) {
    work.catch(() => {});
    return Promise.reject(new AgentKeyTimeoutError(timeoutMs));
  }
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new AgentKeyTimeoutError(timeoutMs)), left);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** `work` under a deadline `timeoutMs` from now (see `within`). */
export function inTime<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  return within(work, Date.now() + timeoutMs, timeoutMs);
}

/**
 * Whether a failed attempt may run once more, with the same request id, inside its deadline: a
 * dropped connection or a claim conflict (another call's tombstone failed its batch) may pass the
 * second time, and the request id's claim makes a replay of a call that did commit fail instead
 * of charging twice. A data exception or a bad argument would only fail again; a timeout has no
 * time left.
 */
export function mayRetry(error: unknown): boolean {
  return !(
    error instanceof AgentKeyTimeoutError ||
    error instanceof AgentKeyInputError ||
    error instanceof PreparedStatementLostError ||
    isDataException(error)
  );
}
