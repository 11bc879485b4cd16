import { redisCounter } from '@agentkey/redis';
import type pg from 'pg';
import { connectRedis, dropPrefix } from './redis.js';
import { type ScaleTables, scaleScenarios } from './scale.js';

export interface RedisScaleSetup {
  pool: pg.Pool;
  admin: pg.Pool;
  schema: string;
  redisUrl: string;
  large?: number;
  /** (s1)–(s4)'s tables, when they run too: the Redis pair runs on them (scale.ts ScaleSetup.tables). */
  tables?: ScaleTables;
}

/**
 * (rs1), (rs2): scale.ts's (s1), (s2) — authorize on 1,000 vs 1,000,000 keys made in bulk — with
 * the Redis counter in front (a prefix of this run's own per table). The uncached pair is left out.
 */
export async function redisScaleScenarios({ pool, admin, schema, redisUrl, large, tables }: RedisScaleSetup) {
  const redis = await connectRedis(redisUrl);
  const prefix = `bench:${schema}:scale:`;
  const scale = await scaleScenarios({
    pool,
    admin,
    schema: `${schema}`,
    large,
    ...(tables ? { tables } : {}),
    variant: {
      label: 'Redis',
      letter: 'r',
      options: (tableName) => ({ counter: redisCounter({ redis, prefix: `${prefix}${tableName}:` }) }),
    },
  });
  return {
    scenarios: scale.scenarios.slice(0, 2),
    notes: scale.notes,
    async close() {
      await dropPrefix(redis, prefix);
      redis.disconnect();
    },
  };
}
