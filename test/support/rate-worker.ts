/**
 * One app process of the rate-limit suite (test/rate-limit-processes.test.ts), run with tsx.
 *
 * MODE=authorize: prints `{ ready }` once connected, waits for the file GO, then makes CALLS concurrent `authorize` calls of 1 ¢
 * on KEY and prints one JSON line { ok, limited, other } before it exits.
 * MODE=signup: serves `createAgentKeyRoutes` (POST /signup, signupRateLimit SIGNUP_MAX per hour)
 * on a free port, prints `{ port }`, and runs until it is killed.
 *
 * Env: URL, TABLE, MODE, and KEY, CALLS, GO or SIGNUP_MAX; with REDIS (a URL) and PREFIX, the
 * store has a redisCounter in front (every worker of a test shares the prefix, as one deployment).
 */
import { existsSync } from 'node:fs';
import { AgentKey } from '@agentkey/core';
import { createAgentKeyRoutes } from '@agentkey/express';
import { redisCounter } from '@agentkey/redis';
import express from 'express';
import { Redis } from 'ioredis';
import pg from 'pg';

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`rate-worker: ${name} is not set`);
  return value;
};
const pool = new pg.Pool({ connectionString: env('URL'), max: 10 });
const redis = process.env.REDIS ? new Redis(process.env.REDIS, { maxRetriesPerRequest: 1 }) : null;
const counter = redis
  ? redisCounter({ redis, prefix: env('PREFIX'), timeoutMs: 5000, trustMs: 60_000 })
  : undefined;
const ak = new AgentKey({
  pool,
  tableName: env('TABLE'),
  timeoutMs: 30_000,
  ...(counter ? { counter } : {}),
});

if (env('MODE') === 'authorize') {
  // Connected and warm before the test says go, so every process starts its calls together.
  await Promise.all(Array.from({ length: 10 }, () => pool.query('SELECT 1')));
  process.stdout.write(`${JSON.stringify({ ready: 1 })}\n`);
  const go = env('GO');
  while (!existsSync(go)) await new Promise((resolve) => setTimeout(resolve, 5));
  const answers = await Promise.all(
    Array.from({ length: Number(env('CALLS')) }, () => ak.authorize(env('KEY'), { costCents: 1 })),
  );
  const count = (test: (a: (typeof answers)[number]) => boolean) => answers.filter(test).length;
  process.stdout.write(
    `${JSON.stringify({
      ok: count((a) => a.ok),
      limited: count((a) => !a.ok && a.error.code === 'rate_limited'),
      other: count((a) => !a.ok && a.error.code !== 'rate_limited'),
    })}\n`,
  );
  await pool.end();
  redis?.disconnect();
} else {
  const app = express();
  app.use(express.json());
  app.use(
    createAgentKeyRoutes(ak, {
      requireEmailForSignup: false,
      signupRateLimit: Number(env('SIGNUP_MAX')),
      onError: (error) => console.error(error),
    }),
  );
  const server = app.listen(0, '127.0.0.1', () => {
    const address = server.address();
    process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' ? address?.port : 0 })}\n`);
  });
}
