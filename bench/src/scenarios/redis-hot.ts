import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { AgentKey } from '@agentkey/core';
import type pg from 'pg';
import type { FromHotWorker, HotWorkerConfig, ToHotWorker } from './redis-hot-worker.js';
import { addTrips, noTrips, type RoundTrips, tripsLine } from './round-trips.js';
import { nextMessage } from './worker-ipc.js';

const BIG = 2_000_000_000;
const WORKER = fileURLToPath(new URL('./redis-hot-worker.ts', import.meta.url));
const PROCESSES = 4;
/** Connections per process (8 processes stay up through the rounds). */
const POOL_MAX = 4;
/** Redis over PostgreSQL-only, 4 processes on one hot key, must reach this. */
export const MIN_HOT_RATIO = 1.5;

export interface RedisHotSetup {
  admin: pg.Pool;
  schema: string;
  url: string;
  redisUrl: string;
  clients: number;
}

export interface RedisHotRow {
  name: string;
  perSec: number;
  p50ms: number;
  p99ms: number;
  errors: number;
  trips?: RoundTrips;
}

type Mode = 'pg' | 'redis' | 'relay';
const MODES: Record<Mode, string> = {
  pg: 'PostgreSQL only',
  redis: 'Redis',
  relay: 'Redis with its relay (one process writes the key for all)',
};

const next = (child: ChildProcess, type: FromHotWorker['type']) =>
  nextMessage<FromHotWorker>(child, type, 'redis hot worker');

const exited = (c: ChildProcess) =>
  c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r));

/**
 * (rh) one hot key charged from 4 separate Node processes (each its own AgentKey, pg pool and,
 * with Redis, ioredis client), `clients` concurrent authorize({ costCents: 1 }) calls in all,
 * PostgreSQL-only vs Redis, rounds interleaved. In-process only (no HTTP layer).
 */
export async function redisHotScenarios(setup: RedisHotSetup, seconds: number, rounds: number) {
  const table = `${setup.schema}.redis_hot_keys`;
  const ak = new AgentKey({ pool: setup.admin, tableName: table, ledger: true });
  await ak.migrate();
  const { key } = await ak.create({ accountId: 'acct_hot', budgetCents: BIG, scopes: ['chat'] });
  const base: HotWorkerConfig = { url: setup.url, tableName: table, key, poolMax: POOL_MAX };
  const children: ChildProcess[] = [];
  // The relay's secret is the run's own: every worker of the group shares it.
  const secret = randomBytes(24).toString('base64url');
  const group = async (mode: Mode) => {
    const redis = { url: setup.redisUrl, prefix: `bench:${setup.schema}:hot:${mode}:` };
    const config: HotWorkerConfig =
      mode === 'pg' ? base : { ...base, redis: mode === 'relay' ? { ...redis, relaySecret: secret } : redis };
    const started = Array.from({ length: PROCESSES }, () => {
      const child = fork(WORKER, [JSON.stringify(config)], {
        execArgv: ['--conditions=source', '--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      children.push(child);
      return { child, ready: next(child, 'ready') };
    });
    for (const s of started) await s.ready;
    return {
      name: `(rh) hot key, ${PROCESSES} processes, authorize, ${MODES[mode]}`,
      children: started.map((s) => s.child),
    };
  };
  try {
    const groups = [await group('pg'), await group('redis'), await group('relay')];
    const runs = new Map<string, RedisHotRow[]>();
    for (let r = 0; r < rounds; r++) {
      for (const g of groups) {
        const results = await Promise.all(
          g.children.map((c) => {
            const answer = next(c, 'result');
            c.send({ type: 'run', seconds, clients: setup.clients / PROCESSES } satisfies ToHotWorker);
            return answer;
          }),
        );
        const latencies: number[] = [];
        let perSec = 0;
        let errors = 0;
        let trips = noTrips();
        for (const m of results) {
          if (m.type !== 'result') continue;
          trips = addTrips(trips, m.trips);
          latencies.push(...m.latencies);
          perSec += m.latencies.length / m.seconds;
          errors += m.errors;
        }
        latencies.sort((a, b) => a - b);
        const pct = (p: number) =>
          latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
        runs.set(g.name, [
          ...(runs.get(g.name) ?? []),
          { name: g.name, perSec, p50ms: pct(0.5), p99ms: pct(0.99), errors, trips },
        ]);
      }
    }
    return groups.map((g) => {
      const ms = runs.get(g.name)!;
      const mean = (f: (m: RedisHotRow) => number) => ms.reduce((s, m) => s + f(m), 0) / ms.length;
      return {
        name: g.name,
        perSec: mean((m) => m.perSec),
        p50ms: mean((m) => m.p50ms),
        p99ms: mean((m) => m.p99ms),
        errors: ms.reduce((s, m) => s + m.errors, 0),
        trips: ms.reduce((s, m) => addTrips(s, m.trips ?? noTrips()), noTrips()),
      };
    });
  } finally {
    for (const c of children) if (c.connected) c.send({ type: 'exit' } satisfies ToHotWorker);
    await Promise.all(children.map(exited));
  }
}

/** The (rh) rows and their target line (Redis with its relay, the setting for several processes). */
export function redisHotLines(rows: RedisHotRow[]): string[] {
  const [pgOnly, withRedis, withRelay] = rows;
  if (!pgOnly || !withRedis || !withRelay) return [];
  const r = withRelay.perSec / pgOnly.perSec;
  const plain = withRedis.perSec / pgOnly.perSec;
  return [
    ...rows.map(
      (m) =>
        `${m.name}: ${m.perSec.toFixed(0)}/s, p50 ${m.p50ms.toFixed(2)} ms, p99 ${m.p99ms.toFixed(2)} ms, errors ${m.errors}`,
    ),
    ...rows.map((m, i) => tripsLine(`(rh) ${Object.values(MODES)[i]}`, m.trips ?? noTrips())),
    `rh hot key 4 processes, Redis without its relay / PostgreSQL only = ${plain.toFixed(2)}   (no target)`,
    `rh hot key 4 processes, Redis with its relay / PostgreSQL only = ${r.toFixed(2)}   (target ≥ ${MIN_HOT_RATIO.toFixed(2)}) ${r >= MIN_HOT_RATIO ? 'met' : 'MISSED'}`,
  ];
}
