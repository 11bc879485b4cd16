import { randomBytes } from 'node:crypto';
import { postgresLimiter, redisLimiter } from '@agentkey/access';
import type { AgentKey } from '@agentkey/core';
import { openStore, type TestDb } from '@agentkey/test-support/db.js';
import { freePort } from '@agentkey/test-support/ports.js';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

describe('rate windows: PostgreSQL alone, and Redis in front', () => {
  let db: TestDb;
  let ak: AgentKey;
  let redis: Redis;
  const prefix = `akt:${randomBytes(4).toString('hex')}:`;

  beforeAll(async () => {
    ({ db, ak } = await openStore('postgres'));
    redis = new Redis(inject('redisUrl'), {
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      lazyConnect: true,
    });
    await redis.connect();
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await db?.close();
  });

  it.each(['postgres', 'redis'] as const)(
    '%s: 30 concurrent hits on a 10/min window admit exactly 10',
    async (kind) => {
      const pg = postgresLimiter(ak);
      const limiter = kind === 'postgres' ? pg : redisLimiter({ redis, fallback: pg, prefix });
      const bucket = `access|test|${kind}`;
      const answers = await Promise.all(
        Array.from({ length: 30 }, () => limiter.hit(bucket, { requests: 10, windowSec: 60 })),
      );
      expect(answers.filter((a) => a.ok)).toHaveLength(10);
      const refused = answers.filter((a) => !a.ok) as Array<{ retryAfterSec: number }>;
      expect(refused).toHaveLength(20);
      for (const r of refused) expect(r.retryAfterSec).toBeGreaterThan(0);
      if (kind === 'redis') expect(Number(await redis.get(`${prefix}${bucket}`))).toBe(30);
    },
  );

  it('with Redis unreachable the window is counted in PostgreSQL: never admitted uncounted', async () => {
    const down = new Redis({
      port: await freePort(),
      host: '127.0.0.1',
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
    });
    down.on('error', () => {});
    const limiter = redisLimiter({ redis: down, fallback: postgresLimiter(ak), prefix });
    const answers = [];
    for (let i = 0; i < 4; i++)
      answers.push((await limiter.hit('access|test|down', { requests: 3, windowSec: 60 })).ok);
    expect(answers).toEqual([true, true, true, false]);
    down.disconnect();
  });

  it('refuses a client that is not one, naming the option', () => {
    expect(() => redisLimiter({ redis: {} as Redis, fallback: postgresLimiter(ak) })).toThrow(
      /redis must be an ioredis client/,
    );
    expect(() => redisLimiter({ redis, fallback: postgresLimiter(ak), prefix: 'bad prefix' })).toThrow(
      /prefix/,
    );
  });
});
