import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { databaseUrl, serverPool } from '../support/db.js';
import { gatewayEnv, startGateway } from '../support/gateway.js';
import { checkRestart, walkBanner } from '../support/gateway-walk.js';

/**
 * The main job on the real parts: DATABASE_URL (the shared PostgreSQL, a fresh schema so runs
 * never collide) and REDIS_URL (the shared Redis; the gateway prefixes its keys by table). Every
 * banner step is walked, then the gateway is restarted on the same database.
 */

const dir = mkdtempSync(join(tmpdir(), 'agentkey-gateway-servers-'));
const schemas: string[] = [];
const admin = serverPool();

const redisUrl = () => inject('redisUrl');
afterAll(async () => {
  for (const schema of schemas) await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
});

async function freshTable(): Promise<string> {
  const schema = `gw_${randomBytes(6).toString('hex')}`;
  await admin.query(`CREATE SCHEMA ${schema}`);
  schemas.push(schema);
  return `${schema}.sdk_api_keys`;
}

describe.each([
  ['DATABASE_URL', false],
  ['DATABASE_URL and REDIS_URL', true],
])('the main job on %s', (_, withRedis) => {
  it('walks every printed step, then finds the same keys and spend after a restart', async () => {
    const table = await freshTable();
    const env = gatewayEnv({
      DATABASE_URL: databaseUrl(),
      AGENTKEY_TABLE: table,
      ...(withRedis ? { REDIS_URL: redisUrl() } : {}),
    });
    const data = join(dir, table);
    const first = await startGateway('node', ['--port', '0', '--data', data], env);
    let seen: Awaited<ReturnType<typeof walkBanner>>;
    try {
      expect(first.banner).toMatch(/database: {2}PostgreSQL at postgres:\/\//);
      if (withRedis) expect(first.banner).toMatch(/redis: {5}Redis at redis:\/\/.* \(write-through counter/);
      else expect(first.banner).toMatch(/redis: {5}off/);
      // gateway.json is for a folder whose PGlite the gateway holds; this one holds none.
      expect(existsSync(join(data, 'gateway.json'))).toBe(false);
      seen = await walkBanner(first);
      // The rows are where DATABASE_URL and AGENTKEY_TABLE said.
      const { rows } = await admin.query(`SELECT count(*)::int AS n FROM ${table}`);
      expect(rows[0].n).toBeGreaterThanOrEqual(3); // demo key, admin key, the first-sight subject
    } finally {
      await first.stop();
    }
    const second = await startGateway('node', ['--port', '0', '--data', data], env);
    try {
      await checkRestart(second, seen);
    } finally {
      await second.stop();
    }
    if (withRedis) {
      // Its counters lived under its own prefix: remove them (never anything else on the shared server).
      const redis = new Redis(redisUrl());
      const keys = await redis.keys(`agentkey:${table}:*`);
      expect(keys.length).toBeGreaterThan(0);
      await redis.del(...keys);
      redis.disconnect();
    }
  }, 300_000);
});
