import { randomBytes } from 'node:crypto';
import type { Queryable } from '@agentkey/core';
import { type RedisCounter, type RedisCounterOptions, redisCounter } from '@agentkey/redis';
import { Redis } from 'ioredis';
import { inject } from 'vitest';

/**
 * `AGENTKEY_TEST_COUNTER=redis` runs the suites that build their stores through db.ts
 * (`openStore`, `twoProcesses`) with a Redis counter in front (the vitest project `core-counter`), its relay on.
 */
export const COUNTER_ON = process.env.AGENTKEY_TEST_COUNTER === 'redis';

/** How long the harness's counters trust a mirror (their trustMs): the bound on a hand edit in SQL. */
export const COUNTER_TRUST_MS = 1000;

export interface TestCounter {
  counter: RedisCounter;
  redis: Redis;
  /** This counter's own key prefix: tests never collide on a shared Redis. */
  prefix: string;
  close(): void;
}

/** A Redis counter on `url` (default: the run's shared Redis) under a prefix of its own. */
export function testCounter(url?: string, options: Partial<RedisCounterOptions> = {}): TestCounter {
  const redis = new Redis(url ?? inject('redisUrl'), {
    maxRetriesPerRequest: 1,
    // Refused connections retry quickly: a restarted private server is found again at once.
    retryStrategy: () => 50,
  });
  redis.on('error', () => {});
  const prefix = options.prefix ?? `t${randomBytes(5).toString('hex')}:`;
  return {
    // A long Redis deadline: a loaded test machine must not look like a Redis fault (faults tests set their own).
    counter: redisCounter({ redis, trustMs: COUNTER_TRUST_MS, timeoutMs: 5000, ...options, prefix }),
    redis,
    prefix,
    close: () => redis.disconnect(),
  };
}

const TALLY_FLUSH = /^WITH pruned AS \(\s*DELETE FROM \S+_refusals"/;

/** A pool that counts the statements sent through it (the real pool underneath). */
export function recordingPool(pool: Queryable): Queryable & { statements: number } {
  const recording = {
    statements: 0,
    query(text: string, params?: unknown[]) {
      // The refusal tally's flush runs on its own timer (core tally/): not a statement of any call.
      if (!TALLY_FLUSH.test(text)) recording.statements += 1;
      return pool.query(text, params);
    },
  };
  return recording as Queryable & { statements: number };
}
