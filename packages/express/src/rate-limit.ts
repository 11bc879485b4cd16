import { AgentKeyInputError } from '@agentkey/core';

export interface RateLimit {
  /** Requests allowed per client per window. */
  max: number;
  /** Window length in milliseconds. */
  windowMs: number;
  /**
   * Clients remembered at once (bounds memory). When more are active in one window the oldest
   * windows are forgotten first. Default 10,000.
   */
  maxClients?: number;
}

export type RateDecision = { ok: true } | { ok: false; retryAfterSec: number };

const HOUR_MS = 3_600_000;

/** A number means that many per hour. */
export function rateLimitOf(
  option: number | RateLimit | undefined,
  fallbackMax: number,
): Required<RateLimit> {
  const limit =
    typeof option === 'number'
      ? { max: option, windowMs: HOUR_MS }
      : (option ?? { max: fallbackMax, windowMs: HOUR_MS });
  const { max, windowMs, maxClients = 10_000 } = limit;
  for (const [name, value] of [
    ['max', max],
    ['windowMs', windowMs],
    ['maxClients', maxClients],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new AgentKeyInputError(`signupRateLimit: ${name} must be a positive integer`, 'signupRateLimit');
    }
  }
  return { max, windowMs, maxClients };
}

/**
 * A fixed-window counter per client, in this process's memory. Several processes each count on
 * their own, so the effective limit is `max` × processes.
 */
export class FixedWindowLimiter {
  // Insertion order is window-start order: expired and oldest windows sit at the front.
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly limit: Required<RateLimit>,
    private readonly now: () => number,
  ) {}

  /** Counts one request from `client` unless the limit is reached. */
  hit(client: string): RateDecision {
    const t = this.now();
    let window = this.windows.get(client);
    if (window && t - window.start >= this.limit.windowMs) {
      this.windows.delete(client);
      window = undefined;
    }
    if (!window) {
      this.makeRoom(t);
      window = { start: t, count: 0 };
      this.windows.set(client, window);
    }
    if (window.count >= this.limit.max) {
      return {
        ok: false,
        retryAfterSec: Math.max(1, Math.ceil((window.start + this.limit.windowMs - t) / 1000)),
      };
    }
    window.count++;
    return { ok: true };
  }

  /** Clients currently remembered. */
  get size(): number {
    return this.windows.size;
  }

  private makeRoom(t: number): void {
    for (const [client, window] of this.windows) {
      const expired = t - window.start >= this.limit.windowMs;
      if (!expired && this.windows.size < this.limit.maxClients) return;
      this.windows.delete(client);
    }
  }
}
