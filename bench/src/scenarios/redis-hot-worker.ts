/**
 * A child process of redis-hot.ts: its own AgentKey and pg pool (and, with Redis, its own ioredis
 * client and counter), `clients` loops of authorize({ costCents: 1 }) on one hot key. Speaks to the
 * parent by IPC: `ready`, then `run` → `result`, `exit`.
 */
import { AgentKey } from '@agentkey/core';
import { redisCounter } from '@agentkey/redis';
import pg from 'pg';
import { measure } from '../harness.js';
import { connectRedis } from './redis.js';
import { countPool, countRedis, noTrips, type RoundTrips } from './round-trips.js';

export interface HotWorkerConfig {
  url: string;
  tableName: string;
  key: string;
  poolMax: number;
  /** The counter's Redis and prefix; absent: PostgreSQL only. */
  redis?: { url: string; prefix: string; relaySecret?: string };
}

export type ToHotWorker = { type: 'run'; seconds: number; clients: number } | { type: 'exit' };
export type FromHotWorker =
  | { type: 'ready' }
  /** `trips`: what this round's calls (warm-up included) sent to PostgreSQL and Redis. */
  | { type: 'result'; latencies: number[]; seconds: number; errors: number; trips: RoundTrips };

const config = JSON.parse(process.argv[2] ?? '{}') as HotWorkerConfig;
let trips = noTrips();
const pool = countPool(new pg.Pool({ connectionString: config.url, max: config.poolMax }), () => trips);
const redis = config.redis ? countRedis(await connectRedis(config.redis.url), () => trips) : null;
const relay = config.redis?.relaySecret ? { relay: { secret: config.redis.relaySecret } } : {};
const counter =
  redis && config.redis ? { counter: redisCounter({ redis, prefix: config.redis.prefix, ...relay }) } : {};
const ak = new AgentKey({ pool, tableName: config.tableName, ledger: true, ...counter });
const send = (m: FromHotWorker) => process.send!(m);

process.on('message', async (m: ToHotWorker) => {
  if (m.type === 'exit') {
    redis?.disconnect();
    await pool.end();
    process.exit(0);
  }
  const latencies: number[] = [];
  trips = noTrips();
  const cpuAt = process.cpuUsage();
  const result = await measure('hot', m.clients, m.seconds, async () => {
    const t = performance.now();
    trips.requests++;
    const ok = (await ak.authorize(config.key, { scope: 'chat', costCents: 1 })).ok;
    latencies.push(performance.now() - t);
    return ok;
  });
  const used = process.cpuUsage(cpuAt);
  trips.cpuMicros = used.user + used.system;
  send({
    type: 'result',
    latencies: latencies.slice(latencies.length - result.ops),
    seconds: result.seconds,
    errors: result.errors,
    trips,
  });
});
send({ type: 'ready' });
