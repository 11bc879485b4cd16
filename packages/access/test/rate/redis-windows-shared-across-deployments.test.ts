import { randomBytes } from 'node:crypto';
import { postgresLimiter, redisLimiter } from '@agentkey/access';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  addTool,
  grantedAgent,
  type Harness,
  startHarness,
  startUpstream,
  type Upstream,
} from '../support/setup.js';

// Two deployments (two keys tables) behind one Redis, each with the default limiter prefix: the
// windows are named by tool id, grant id and key id, which repeat from one deployment to the next.
describe('Redis rate windows of two deployments', () => {
  const prefix = `akt:review:${randomBytes(4).toString('hex')}:`;
  let redis: Redis;
  let upstream: Upstream;
  const hs: Harness[] = [];

  beforeAll(async () => {
    redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1, lazyConnect: true });
    await redis.connect();
    upstream = await startUpstream();
    for (let i = 0; i < 2; i++) {
      const own: { h?: Harness } = {};
      const h = await startHarness({
        access: {
          rateLimits: { vend: { perTool: { requests: 1, windowSec: 600 } } },
          // The limiter is built per deployment, as an app does; the prefix is the same default.
          limiter: {
            hit: (bucket, limit) =>
              redisLimiter({ redis, fallback: postgresLimiter(own.h!.ak), prefix }).hit(bucket, limit),
          },
        },
      });
      own.h = h;
      hs.push(h);
      await addTool(h.access, upstream);
    }
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    for (const h of hs) await h.close();
    await upstream?.close();
  });

  it("one deployment's calls never count in another's windows", async () => {
    const [a, b] = [await grantedAgent(hs[0]!), await grantedAgent(hs[1]!)];
    expect((await hs[0]!.call('GET', '/tools/github/credentials', a.key)).status).toBe(200);
    const other = await hs[1]!.call('GET', '/tools/github/credentials', b.key);
    expect([other.status, other.body.error]).toEqual([200, undefined]);
  });
});
