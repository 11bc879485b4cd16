import { AgentKey, type AgentKeyOptions } from '@agentkey/core';
import { redisCounter } from '@agentkey/redis';
import { Redis } from 'ioredis';
import pg from 'pg';
import { type Measurement, measure, type Scenario } from '../harness.js';
import { pick } from './core.js';
import { counted, countLines } from './counted.js';

const BIG = 2_000_000_000;
/** A limit no scenario reaches: its cost is the bookkeeping alone. */
const GENEROUS = { requests: 1_000_000_000, windowSec: 60 };
/** Connections of these scenarios' own pool. */
const POOL_MAX = 16;

export interface RedisSetup {
  admin: pg.Pool;
  url: string;
  schema: string;
  keys: number;
  redisUrl: string;
}

/** `url` naming `database` instead of its own. */
function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Drops `database` once the backends of a pool just ended are gone (FORCE only at the last try). */
async function dropDatabase(admin: pg.Pool, database: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    try {
      await admin.query(`DROP DATABASE ${database}`);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await admin.query(`DROP DATABASE ${database} WITH (FORCE)`);
}

/** A ready ioredis client as the README configures it (fails at once when disconnected). */
export async function connectRedis(redisUrl: string): Promise<Redis> {
  const redis = new Redis(redisUrl, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    lazyConnect: true,
  });
  await redis.connect();
  return redis;
}

/** Deletes every key under `prefix` (this run's only). */
export async function dropPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (found.length) await redis.del(...found);
  } while (cursor !== '0');
}

/** xact_commit + xact_rollback of `database`, after `pool`'s backends flushed their statistics. */
async function transactions(admin: pg.Pool, pool: pg.Pool, database: string): Promise<number> {
  const clients = await Promise.all(Array.from({ length: pool.totalCount }, () => pool.connect()));
  await Promise.all(clients.map((c) => c.query('SELECT pg_stat_force_next_flush()')));
  for (const c of clients) c.release();
  const r = await admin.query(
    'SELECT (xact_commit + xact_rollback)::float8 AS n FROM pg_stat_database WHERE datname = $1',
    [database],
  );
  return r.rows[0].n as number;
}

/**
 * (r1)–(r6): PostgreSQL-only vs the Redis write-through counter (real redis-server, a prefix of
 * this run's own), ledger on, 100 keys over 10 accounts:
 *   (r1)/(r2) refusals of a spent key; (r3)/(r4) authorize costCents 1 on 100 keys;
 *   (r5)/(r6) as (r3)/(r4) with a generous rate limit on every key (never refuses).
 * `transactionsDuringRefusals` measures the refusal pair once more, outside the rounds, with the
 * transaction count (pg_stat_database) of a database of its own read around each.
 */
export async function redisScenarios({ admin, url, schema, keys: n, redisUrl }: RedisSetup) {
  const pool = new pg.Pool({ connectionString: url, max: POOL_MAX });
  const redis = await connectRedis(redisUrl);
  const counts = counted(pool, redis);
  const prefix = `bench:${schema}:`;
  const store = async (name: string, withRedis: boolean, extra: Partial<AgentKeyOptions> = {}) => {
    const tableName = `${schema}.${name}`;
    const counter = withRedis ? { counter: redisCounter({ redis, prefix: `${prefix}${name}:` }) } : {};
    const ak = new AgentKey({ pool, tableName, ledger: true, ...counter, ...extra });
    await ak.migrate();
    return ak;
  };
  const mint = async (
    ak: AgentKey,
    count: number,
    options: { budgetCents: number; rateLimit?: typeof GENEROUS },
  ) => {
    const made: string[] = [];
    for (let k = 0; k < count; k++) {
      made.push((await ak.create({ accountId: `acct_${k % 10}`, scopes: ['chat'], ...options })).key);
    }
    return made;
  };
  const spent = async (ak: AgentKey) => {
    const [key] = await mint(ak, 1, { budgetCents: 1 });
    await ak.authorize(key!, { scope: 'chat', costCents: 1 });
    return key!;
  };
  const pgOnly = await store('r_pg', false);
  const withRedis = await store('r_redis', true);
  const spentPg = await spent(pgOnly);
  const spentRedis = await spent(withRedis);
  const keysPg = await mint(pgOnly, n, { budgetCents: BIG });
  const keysRedis = await mint(withRedis, n, { budgetCents: BIG });
  const limitedPg = await mint(pgOnly, n, { budgetCents: BIG, rateLimit: GENEROUS });
  const limitedRedis = await mint(withRedis, n, { budgetCents: BIG, rateLimit: GENEROUS });

  const refuse = (ak: AgentKey, key: string) => async () => {
    const r = await ak.authorize(key, { scope: 'chat', costCents: 1 });
    return !r.ok && r.error.code === 'budget_exceeded';
  };
  const charge = (ak: AgentKey, keys: string[]) => async (c: number, i: number) =>
    (await ak.authorize(keys[pick(c, i, n)]!, { scope: 'chat', costCents: 1 })).ok;
  const scenarios: Scenario[] = (
    [
      { name: '(r1) refusals of a spent key, PostgreSQL only', run: refuse(pgOnly, spentPg) },
      { name: '(r2) refusals of a spent key, Redis', run: refuse(withRedis, spentRedis) },
      { name: '(r3) authorize, 100 keys, ledger on, PostgreSQL only', run: charge(pgOnly, keysPg) },
      { name: '(r4) authorize, 100 keys, ledger on, Redis', run: charge(withRedis, keysRedis) },
      {
        name: '(r5) as (r3), a rate limit on every key (never reached)',
        run: charge(pgOnly, limitedPg),
      },
      {
        name: '(r6) as (r4), a rate limit on every key (never reached)',
        run: charge(withRedis, limitedRedis),
      },
    ] as Scenario[]
  ).map(counts.wrap);
  const [r1, r2, r3, r4, r5, r6] = scenarios.map((s) => s.name) as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  return {
    scenarios,
    targets: [
      { label: 'r2/r1 refusals, Redis / PostgreSQL only', scenario: r2, versus: r1, min: 5 },
      { label: 'r4/r3 100 keys, Redis / PostgreSQL only', scenario: r4, versus: r3, min: 0.9 },
      { label: 'r5/r3 rate limits on / off, PostgreSQL only', scenario: r5, versus: r3, min: 0.9 },
      { label: 'r6/r4 rate limits on / off, Redis', scenario: r6, versus: r4, min: 0.9 },
    ],
    /** (r3)–(r6)'s statements, engine calls and Redis commands per request (warm-up included). */
    notes(results: Measurement[]): string[] {
      const ran = new Set(results.map((r) => r.name));
      return countLines(
        [r3, r4, r5, r6].filter((name) => ran.has(name)),
        counts.of,
      );
    },
    /**
     * The refusal pair measured once more in a database of its own (made and dropped here), so
     * that pg_stat_database counts this process's transactions only (others share `test`).
     */
    async transactionsDuringRefusals(clients: number, seconds: number): Promise<string[]> {
      const database = `${schema}_xact`;
      await admin.query(`CREATE DATABASE ${database}`);
      const own = new pg.Pool({ connectionString: withDatabase(url, database), max: POOL_MAX });
      const lines: string[] = [];
      try {
        for (const [label, counter] of [
          ['PostgreSQL only', {}],
          ['Redis', { counter: redisCounter({ redis, prefix: `${prefix}xact:` }) }],
        ] as const) {
          const ak = new AgentKey({
            pool: own,
            tableName: `xact_${label === 'Redis' ? 'redis' : 'pg'}`,
            ...counter,
          });
          await ak.migrate();
          const key = await spent(ak);
          const before = await transactions(admin, own, database);
          const m = await measure(label, clients, seconds, refuse(ak, key));
          const after = await transactions(admin, own, database);
          lines.push(
            `refusals, ${label}: ${m.ops} in ${m.seconds.toFixed(1)} s (${m.perSec.toFixed(0)}/s, p50 ${m.p50ms.toFixed(2)} ms, p99 ${m.p99ms.toFixed(2)} ms, warm-up not counted); ` +
              `PostgreSQL transactions during warm-up and window (pg_stat_database) +${after - before} (one statistics flush per pool connection included)`,
          );
        }
      } finally {
        await own.end();
        await dropDatabase(admin, database);
      }
      return lines;
    },
    async close() {
      await dropPrefix(redis, prefix);
      redis.disconnect();
      await pool.end();
    },
  };
}
