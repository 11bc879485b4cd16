import { type AgentKey, AgentKeyInputError, type RateWindowDecision } from '@agentkey/core';

export interface RateLimit {
  /** Requests allowed per client per window. */
  max: number;
  /** Window length in milliseconds. */
  windowMs: number;
  /**
   * Accepted for compatibility; bounds nothing now. The windows live in PostgreSQL, one row per
   * client address, and expired ones are pruned as new ones open. Default 10,000.
   */
  maxClients?: number;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

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
  if (Number.isSafeInteger(windowMs) && windowMs > DAY_MS) {
    throw new AgentKeyInputError('signupRateLimit: windowMs must be at most a day', 'signupRateLimit');
  }
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
 * The /signup limiter: one fixed window per client address and configuration, stored in
 * PostgreSQL by the store (`rateLimitHit`, the rule of core's sql/rate-rules.ts), so every app
 * process shares one count per client. The window is counted in whole seconds (windowMs rounded
 * up); the store's clock is the one it reads.
 */
/** The /signup window in whole seconds, as the limiter counts it and its headers say. */
export const signupWindowSec = (limit: Required<RateLimit>): number => Math.ceil(limit.windowMs / 1000);

export function signupLimiter(
  ak: Pick<AgentKey, 'rateLimitHit'>,
  limit: Required<RateLimit>,
): (client: string) => Promise<RateWindowDecision> {
  const windowSec = signupWindowSec(limit);
  // A changed configuration starts its own windows rather than inheriting another's count.
  const prefix = `signup|${limit.max}/${windowSec}s|`;
  return (client) => ak.rateLimitHit(`${prefix}${client}`, { requests: limit.max, windowSec });
}
