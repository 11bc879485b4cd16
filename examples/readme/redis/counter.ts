// #region readme
import { AgentKey } from '@agentkey/core';
import { redisCounter } from '@agentkey/redis';
import { Redis } from 'ioredis';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
  maxRetriesPerRequest: 1,
  enableOfflineQueue: false,
});
// The counter tells the store's onError of an outage, once (then every 30 s while it lasts); without
// a listener of its own, ioredis prints an "Unhandled error event" at every reconnect attempt.
redis.on('error', () => {});
const ak = new AgentKey({ pool, counter: redisCounter({ redis }) });
// #endregion readme

await ak.migrate();
const { key } = await ak.create({ accountId: 'acme', budgetCents: 2 });
const answers: string[] = [];
for (let i = 0; i < 4; i++) {
  const r = await ak.authorize(key, { costCents: 1 });
  answers.push(r.ok ? 'ok' : r.error.code);
}
console.log(`with Redis in front: ${answers.join(', ')}`);
await pool.end();
redis.disconnect();
