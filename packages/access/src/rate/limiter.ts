import type { AgentKey, RateWindowDecision } from '@agentkey/core';
import { AccessConfigError } from '../errors.js';

export interface WindowLimit {
  requests: number;
  windowSec: number;
}

/** Counts one call in a named fixed window unless the window already admitted `requests`. */
export interface RateLimiter {
  hit(bucket: string, limit: WindowLimit): Promise<RateWindowDecision>;
}

/** PostgreSQL alone: core's named windows (`ak.rateLimitHit`), shared by every process. */
export function postgresLimiter(ak: Pick<AgentKey, 'rateLimitHit'>): RateLimiter {
  return { hit: (bucket, limit) => ak.rateLimitHit(bucket, limit) };
}

/** The one ioredis call the Redis limiter makes (an ioredis `Redis` or `Cluster` fits). */
export interface RedisLike {
  eval(script: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
}

// A fixed window: the first call opens it with its expiry; a call past `max` is refused with the
// milliseconds left. INCR and PEXPIRE in one script, so no window is ever left without an expiry.
const WINDOW = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then return {0, redis.call('PTTL', KEYS[1])} end
return {1, 0}`;

const PREFIX = /^[A-Za-z0-9:_.-]{0,64}$/;

/**
 * Redis in front: each window one key, counted in one script. If Redis fails or is slow, the call is
 * counted by `fallback` (PostgreSQL) instead: never admitted uncounted.
 */
export function redisLimiter(options: {
  redis: RedisLike;
  fallback: RateLimiter;
  prefix?: string;
  timeoutMs?: number;
}): RateLimiter {
  const { redis, fallback, prefix = 'agentkey:access:', timeoutMs = 250 } = options ?? {};
  if (typeof redis?.eval !== 'function')
    throw new AccessConfigError('redisLimiter: redis must be an ioredis client', 'redis');
  if (typeof fallback?.hit !== 'function')
    throw new AccessConfigError('redisLimiter: fallback must be a RateLimiter', 'fallback');
  if (!PREFIX.test(prefix))
    throw new AccessConfigError('redisLimiter: prefix must be ≤ 64 of A-Z a-z 0-9 : _ . -', 'prefix');
  return {
    async hit(bucket, limit) {
      let timer: NodeJS.Timeout | undefined;
      try {
        const answer = (await Promise.race([
          redis.eval(WINDOW, 1, `${prefix}${bucket}`, limit.requests, limit.windowSec * 1000),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error('redis limiter timed out')), timeoutMs);
          }),
        ])) as [number, number];
        if (Number(answer[0]) === 1) return { ok: true };
        return { ok: false, retryAfterSec: Math.max(1, Math.ceil(Number(answer[1]) / 1000)) };
      } catch {
        return fallback.hit(bucket, limit);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
