/**
 * A child process of the hot-key scenarios (hot.ts). Roles, by argv[2]:
 *   direct  an AgentKey with its own pg pool, `clients` loops of authorize({ costCents: 1 }) on one key;
 *   app     the same store behind an Express app (agentKeyAuth, cost 1) on a port of its own;
 *   load    an HTTP load generator: `clients` keep-alive connections spread over the apps' ports.
 * Every process speaks to the parent by IPC: `ready`, then `run` → `result`, `counts` → `counts`, `exit`.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AgentKey } from '@agentkey/core';
import { agentKeyAuth } from '@agentkey/express';
import express from 'express';
import pg from 'pg';
import { measure } from '../harness.js';
import { countQueries } from './counted.js';

export interface WorkerConfig {
  url: string;
  tableName: string;
  key: string;
  /** Connections of a store process's pool (the parent keeps the server's total in bounds). */
  poolMax: number;
}

/** What the pool was asked to run, by kind: the engine function, a batch statement, a lone statement. */
export interface Counts {
  engine: number;
  batch: number;
  lone: number;
}

export type ToWorker =
  | { type: 'run'; seconds: number; clients: number; ports?: number[] }
  | { type: 'counts' }
  | { type: 'exit' };

export type FromWorker =
  | { type: 'ready'; port?: number }
  /** `latencies` of the measured window; `total` counts the warm-up's calls too, as `counts` and table stats do. */
  | { type: 'result'; latencies: number[]; total: number; seconds: number; errors: number }
  | { type: 'counts'; counts: Counts };

const role = process.argv[2];
const config = JSON.parse(process.argv[3] ?? '{}') as WorkerConfig;
const send = (m: FromWorker) => process.send!(m);
const counts: Counts = { engine: 0, batch: 0, lone: 0 };
const taken = (): Counts => {
  const c = { ...counts };
  counts.engine = counts.batch = counts.lone = 0;
  return c;
};

/** A pg pool whose every query is counted by kind (it stays a pg.Pool: prepared statements stay on). */
function countedPool(): pg.Pool {
  const pool = new pg.Pool({ connectionString: config.url, max: config.poolMax });
  countQueries(pool, (kind) => counts[kind]++);
  return pool;
}

/** Asks every pooled backend to flush its table statistics once idle (pg_stat_user_tables is read next). */
async function flushStats(pool: pg.Pool): Promise<void> {
  const clients = await Promise.all(Array.from({ length: pool.totalCount }, () => pool.connect()));
  await Promise.all(clients.map((c) => c.query('SELECT pg_stat_force_next_flush()')));
  for (const c of clients) c.release();
}

function get(agent: http.Agent, port: number, key: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: '/hot', agent, headers: { authorization: `Bearer ${key}` } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200));
      },
    );
    req.on('error', () => resolve(false));
    req.end();
  });
}

async function main() {
  let pool: pg.Pool | null = null;
  let server: http.Server | null = null;
  let op: ((c: number, i: number) => Promise<boolean>) | null = null;
  if (role === 'direct' || role === 'app') {
    pool = countedPool();
    const ak = new AgentKey({ pool, tableName: config.tableName, ledger: true, preparedStatements: true });
    if (role === 'direct') {
      op = async () => (await ak.authorize(config.key, { scope: 'chat', costCents: 1 })).ok;
    } else {
      const app = express();
      app.get('/hot', agentKeyAuth({ agentKey: ak, cost: 1, onError: () => {} }), (_req, res) => {
        res.end('ok');
      });
      const listening = app.listen(0, '127.0.0.1');
      await new Promise<void>((resolve) => listening.once('listening', () => resolve()));
      server = listening;
    }
  }
  process.on('message', async (m: ToWorker) => {
    if (m.type === 'exit') {
      server?.close();
      await pool?.end();
      process.exit(0);
    }
    if (m.type === 'counts') {
      if (pool) await flushStats(pool);
      send({ type: 'counts', counts: taken() });
      return;
    }
    let run = op;
    let agents: http.Agent[] = [];
    if (role === 'load') {
      const ports = m.ports ?? [];
      agents = ports.map(
        () => new http.Agent({ keepAlive: true, maxSockets: Math.ceil(m.clients / ports.length) }),
      );
      run = (c) => get(agents[c % ports.length]!, ports[c % ports.length]!, config.key);
    }
    const latencies: number[] = [];
    const result = await measure('hot', m.clients, m.seconds, async (c, i) => {
      const t = performance.now();
      const ok = await run!(c, i);
      latencies.push(performance.now() - t);
      return ok;
    });
    for (const a of agents) a.destroy();
    // Only the measured window's latencies: the warm-up's are the first ones pushed.
    send({
      type: 'result',
      latencies: latencies.slice(latencies.length - result.ops),
      total: latencies.length,
      seconds: result.seconds,
      errors: result.errors,
    });
  });
  send({ type: 'ready', ...(server ? { port: (server.address() as AddressInfo).port } : {}) });
}

await main();
