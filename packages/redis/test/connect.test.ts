import { Redis } from 'ioredis';
import { expect, inject, it } from 'vitest';
import { PACKAGE } from '../src/index.js';

it('reaches the Redis the test run uses (a real redis-server)', async () => {
  const redis = new Redis(inject('redisUrl'), { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    expect(await redis.ping()).toBe('PONG');
    expect(PACKAGE).toBe('@agentkey/redis');
  } finally {
    redis.disconnect();
  }
});
