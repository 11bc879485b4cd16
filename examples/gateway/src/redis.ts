/**
 * REDIS_URL: a write-through counter in front of the database and a change feed between
 * processes (@agentkey/redis). Redis must answer at start, or the gateway says so in one line;
 * once running, a Redis that fails only sends calls to the database.
 */

import type { AgentKeyOptions } from '@agentkey/core';
import { redisChanges, redisCounter } from '@agentkey/redis';
import { Redis } from 'ioredis';
import { ConfigError } from './config.js';
import { why } from './database.js';

export interface RedisParts {
  options: Pick<AgentKeyOptions, 'counter' | 'changes'>;
  label: string;
  close(): Promise<void>;
}

export async function openRedis(url: string, table: string): Promise<RedisParts> {
  const parsed = new URL(url);
  const where = `${parsed.protocol}//${parsed.host}`;
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 3_000,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
  });
  redis.on('error', () => {}); // reconnects by itself; the counter falls back to the database meanwhile
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    throw new ConfigError(`cannot reach Redis at ${where} (${why(error)}): check REDIS_URL`);
  }
  // One deployment per table: its counters and change channel never meet another's.
  const prefix = `agentkey:${table}:`;
  const changes = redisChanges({ redis, prefix });
  return {
    options: { counter: redisCounter({ redis, prefix }), changes },
    label: `Redis at ${where} (write-through counter, change feed)`,
    async close() {
      await changes.close();
      redis.disconnect();
    },
  };
}
