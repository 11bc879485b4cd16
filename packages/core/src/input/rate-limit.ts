import { MAX_BUDGET_CENTS } from '../budget/money.js';
import { AgentKeyInputError } from '../errors/errors.js';

/**
 * A rate limit: at most `requests` calls and `cents` cents (charged or held) per window of
 * `windowSec` seconds, counted across every process. Give `requests`, `cents` or both.
 */
export interface RateLimit {
  /** Calls admitted per window (1 to 1,000,000,000); null or omitted: no call limit. */
  requests?: number | null;
  /** Whole cents charged or held per window; null or omitted: no spend limit. */
  cents?: number | null;
  /** The window, in whole seconds from 1 to 86,400. Default 60. */
  windowSec?: number;
}

/** A rate limit as a read returns it. */
export interface RateLimitInfo {
  requests: number | null;
  cents: number | null;
  windowSec: number;
}

/** The most calls a window may admit (well inside the INTEGER column). */
export const MAX_RATE_REQUESTS = 1_000_000_000;
/** The longest window: a day. */
export const MAX_RATE_WINDOW_SEC = 86_400;
const DEFAULT_WINDOW_SEC = 60;
const FIELDS = new Set(['requests', 'cents', 'windowSec']);

const whole = (value: unknown, max: number) =>
  Number.isSafeInteger(value) && (value as number) >= 1 && (value as number) <= max;

/**
 * A `rateLimit` option, checked: undefined when not given, null for none, else every field set
 * (`windowSec` defaulting to 60). Throws AgentKeyInputError naming the field (`rateLimit.requests`).
 */
export function checkRateLimit(value: unknown, field = 'rateLimit'): RateLimitInfo | null | undefined {
  if (value === undefined || value === null) return value;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new AgentKeyInputError(`${field} must be { requests?, cents?, windowSec? } or null`, field);
  }
  const given = value as Record<string, unknown>;
  for (const name of Object.keys(given)) {
    if (!FIELDS.has(name)) {
      throw new AgentKeyInputError(
        `${field}.${name} is not a rate-limit option (requests, cents, windowSec)`,
        `${field}.${name}`,
      );
    }
  }
  const { requests = null, cents = null, windowSec = DEFAULT_WINDOW_SEC } = given;
  if (requests !== null && !whole(requests, MAX_RATE_REQUESTS)) {
    throw new AgentKeyInputError(
      `${field}.requests must be a whole number from 1 to ${MAX_RATE_REQUESTS}, or null`,
      `${field}.requests`,
    );
  }
  if (cents !== null && !whole(cents, MAX_BUDGET_CENTS)) {
    throw new AgentKeyInputError(
      `${field}.cents must be a whole number of cents from 1 to ${MAX_BUDGET_CENTS}, or null`,
      `${field}.cents`,
    );
  }
  if (!whole(windowSec, MAX_RATE_WINDOW_SEC)) {
    throw new AgentKeyInputError(
      `${field}.windowSec must be a whole number of seconds from 1 to ${MAX_RATE_WINDOW_SEC}`,
      `${field}.windowSec`,
    );
  }
  if (requests === null && cents === null) {
    throw new AgentKeyInputError(`${field} must limit requests, cents or both (null: no limit)`, field);
  }
  return {
    requests: requests as number | null,
    cents: cents as number | null,
    windowSec: windowSec as number,
  };
}

/** A row's rate-limit columns as a read returns them; null when it has none. */
export function rateLimitOf(row: {
  rate_requests?: number | null;
  rate_cents?: number | null;
  rate_window_sec?: number | null;
}): RateLimitInfo | null {
  if (row.rate_window_sec === null || row.rate_window_sec === undefined) return null;
  return {
    requests: row.rate_requests ?? null,
    cents: row.rate_cents ?? null,
    windowSec: Number(row.rate_window_sec),
  };
}

/** The three columns' values for a checked limit (null: none). */
export function rateColumns(
  limit: RateLimitInfo | null | undefined,
): [number | null, number | null, number | null] {
  return limit ? [limit.requests, limit.cents, limit.windowSec] : [null, null, null];
}
