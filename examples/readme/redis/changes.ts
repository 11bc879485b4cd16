import { AgentKey } from '@agentkey/core';
import { Redis } from 'ioredis';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });

// #region readme
import { redisChanges } from '@agentkey/redis';

const changes = redisChanges({ redis, prefix: 'myapp:' });
const ak = new AgentKey({ pool, changes });
// #endregion readme

await ak.migrate();
const { key, id } = await ak.create({ accountId: 'acme' });
await ak.revoke(id); // published to every process on myapp:changes
const r = await ak.authorize(key);
console.log(`revoked, and the change published: ${r.ok ? 'allowed' : r.error.code}`);
await changes.close();
await pool.end();
redis.disconnect();
