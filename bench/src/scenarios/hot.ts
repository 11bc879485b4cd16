import { type ChildProcess, fork } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { AgentKey } from '@agentkey/core';
import type pg from 'pg';
import type { Counts, FromWorker, ToWorker, WorkerConfig } from './hot-worker.js';
import { nextMessage } from './worker-ipc.js';

const BIG = 2_000_000_000;
const WORKER = fileURLToPath(new URL('./hot-worker.ts', import.meta.url));
const PROCESSES = [1, 2, 4] as const;
/**
 * Connections per store process. Every configuration stays up through the rounds (14 processes),
 * and the server has 100 connections for everyone: a coalescing store needs few (two batch
 * statements in flight, plus the calls that fall back to the engine one by one).
 */
const POOL_MAX = 4;

export interface HotSetup {
  admin: pg.Pool;
  schema: string;
  url: string;
  /** Concurrent calls in all, split evenly over the processes. */
  clients: number;
}

interface Group {
  name: string;
  processes: number;
  /** Processes holding a store (and a pool): their statements are counted. */
  stores: ChildProcess[];
  /** Processes making the calls: the stores themselves, or one HTTP load generator. */
  drivers: ChildProcess[];
  ports: number[];
  /** A control: each process on a key of its own (its key-row writes are not the hot key's). */
  control?: boolean;
}

export interface HotRow {
  name: string;
  processes: number;
  control?: boolean;
  perSec: number;
  p50ms: number;
  p99ms: number;
  /** Writes of the hot key's row (pg_stat_user_tables n_tup_upd) per request. */
  rowWrites: number;
  /** Engine-function calls per request: the lean paths' fallback. */
  engine: number;
  /** Statements of any kind per request. */
  statements: number;
  errors: number;
}

const next = (child: ChildProcess, type: FromWorker['type']) =>
  nextMessage<FromWorker>(child, type, 'hot worker');

async function ask(child: ChildProcess, message: ToWorker, type: FromWorker['type']): Promise<FromWorker> {
  const answer = next(child, type);
  child.send(message);
  return answer;
}

interface Worker {
  child: ChildProcess;
  /** The `ready` message, listened for from the start (it may come before anyone awaits it). */
  ready: Promise<FromWorker>;
}

function spawn(role: 'direct' | 'app' | 'load', config: WorkerConfig): Worker {
  const child = fork(WORKER, [role, JSON.stringify(config)], {
    execArgv: ['--conditions=source', '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return { child, ready: next(child, 'ready') };
}

const exited = (c: ChildProcess) =>
  c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r));

/**
 * One hot key charged from 1, 2 and 4 separate Node processes (each its own AgentKey and pg pool),
 * `clients` concurrent authorize({ costCents: 1 }) calls in all, in-process and at the HTTP level
 * (an Express app with agentKeyAuth per process, loaded by a separate keep-alive HTTP client).
 * Every configuration's processes start once and stay up; rounds interleave as the main scenarios'.
 */
export async function hotScenarios(setup: HotSetup, seconds: number, rounds: number): Promise<HotRow[]> {
  const table = `${setup.schema}.hot_keys`;
  const ak = new AgentKey({ pool: setup.admin, tableName: table, ledger: true });
  await ak.migrate();
  const { key } = await ak.create({ accountId: 'acct_hot', budgetCents: BIG, scopes: ['chat'] });
  // The controls' keys: one per process, each in an account of its own (no row shared).
  const own: string[] = [];
  for (let i = 0; i < Math.max(...PROCESSES); i++) {
    own.push((await ak.create({ accountId: `acct_own_${i}`, budgetCents: BIG, scopes: ['chat'] })).key);
  }
  const base = { url: setup.url, tableName: table, key };
  const workers: Worker[] = [];
  const start = (role: 'direct' | 'app' | 'load', k = key) => {
    const w = spawn(role, { ...base, key: k, poolMax: POOL_MAX });
    workers.push(w);
    return w;
  };
  try {
    const groups: Group[] = [];
    for (const http of [false, true]) {
      for (const n of PROCESSES) {
        const stores = Array.from({ length: n }, () => start(http ? 'app' : 'direct'));
        const load = http ? start('load') : null;
        const ports: number[] = [];
        for (const s of stores) {
          const ready = await s.ready;
          if (ready.type === 'ready' && ready.port) ports.push(ready.port);
        }
        if (load) await load.ready;
        const what = http
          ? `${n} Express app process${n > 1 ? 'es' : ''}, HTTP`
          : `${n} process${n > 1 ? 'es' : ''}, authorize`;
        groups.push({
          name: `hot key, ${what}`,
          processes: n,
          stores: stores.map((s) => s.child),
          drivers: load ? [load.child] : stores.map((s) => s.child),
          ports,
        });
      }
    }
    // The machine's ceiling for N processes: the same processes and clients, each process on a
    // key of its own, so no row is shared. What N processes lose to each other here (CPU, batches
    // of 32/N calls each) no coalescing across the hot row can win back.
    for (const n of PROCESSES.filter((p) => p > 1)) {
      const stores = Array.from({ length: n }, (_, i) => start('direct', own[i]));
      for (const s of stores) await s.ready;
      groups.push({
        name: `control: ${n} processes, authorize, each on a key of its own (no shared row)`,
        processes: n,
        control: true,
        stores: stores.map((s) => s.child),
        drivers: stores.map((s) => s.child),
        ports: [],
      });
    }
    return await measureGroups(groups, setup, table, seconds, rounds);
  } finally {
    for (const { child } of workers) if (child.connected) child.send({ type: 'exit' } satisfies ToWorker);
    await Promise.all(workers.map((w) => exited(w.child)));
  }
}

/** n_tup_upd of the hot key's table, after the stores flushed their statistics. */
async function rowWrites(admin: pg.Pool, table: string): Promise<number> {
  await sleep(50);
  const [schema, name] = table.split('.');
  const r = await admin.query(
    'SELECT n_tup_upd::float8 AS n FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = $2',
    [schema, name],
  );
  return r.rows[0]?.n ?? 0;
}

async function takeCounts(stores: ChildProcess[]): Promise<Counts> {
  const all = await Promise.all(stores.map((s) => ask(s, { type: 'counts' }, 'counts')));
  const sum: Counts = { engine: 0, batch: 0, lone: 0 };
  for (const m of all) {
    if (m.type !== 'counts') continue;
    sum.engine += m.counts.engine;
    sum.batch += m.counts.batch;
    sum.lone += m.counts.lone;
  }
  return sum;
}

/** One round of one configuration. */
type Round = Omit<HotRow, 'name' | 'processes'>;

async function measureOnce(g: Group, setup: HotSetup, table: string, seconds: number): Promise<Round> {
  await takeCounts(g.stores);
  const before = await rowWrites(setup.admin, table);
  const clients = setup.clients / g.drivers.length;
  const results = await Promise.all(
    g.drivers.map((d) => ask(d, { type: 'run', seconds, clients, ports: g.ports }, 'result')),
  );
  const counts = await takeCounts(g.stores);
  const writes = (await rowWrites(setup.admin, table)) - before;
  const latencies: number[] = [];
  let perSec = 0;
  let total = 0;
  let errors = 0;
  for (const r of results) {
    if (r.type !== 'result') continue;
    latencies.push(...r.latencies);
    perSec += r.latencies.length / r.seconds;
    total += r.total;
    errors += r.errors;
  }
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  return {
    perSec,
    p50ms: pct(0.5),
    p99ms: pct(0.99),
    rowWrites: writes / total,
    engine: counts.engine / total,
    statements: (counts.engine + counts.batch + counts.lone) / total,
    errors,
  };
}

async function measureGroups(
  groups: Group[],
  setup: HotSetup,
  table: string,
  seconds: number,
  rounds: number,
): Promise<HotRow[]> {
  const runs = new Map<Group, Round[]>(groups.map((g) => [g, []]));
  for (let r = 0; r < rounds; r++) {
    for (const g of groups) {
      const m = await measureOnce(g, setup, table, seconds);
      if (process.env.BENCH_VERBOSE) console.error(`round ${r + 1}: ${g.name}: ${m.perSec.toFixed(0)}/s`);
      runs.get(g)!.push(m);
    }
  }
  return groups.map((g) => {
    const ms = runs.get(g)!;
    const mean = (f: (m: Round) => number) => ms.reduce((sum, m) => sum + f(m), 0) / ms.length;
    return {
      name: g.name,
      processes: g.processes,
      control: g.control,
      perSec: mean((m) => m.perSec),
      p50ms: mean((m) => m.p50ms),
      p99ms: mean((m) => m.p99ms),
      rowWrites: mean((m) => m.rowWrites),
      engine: mean((m) => m.engine),
      statements: mean((m) => m.statements),
      errors: ms.reduce((sum, m) => sum + m.errors, 0),
    };
  });
}

/** The table and the N-process / 1-process ratios (target ≥ 1.0: N processes no slower than one). */
export function hotReport(rows: HotRow[]): { table: string; lines: string[] } {
  const one = (r: HotRow) =>
    rows.find((x) => x.processes === 1 && x.name.includes('HTTP') === r.name.includes('HTTP'))!;
  const table = [
    '| hot key (one key, ledger on, 32 clients in all) | ops/s | p50 ms | p99 ms | ratio to 1 process | key-row writes/req | engine calls/req | statements/req | errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${r.perSec.toFixed(0)} | ${r.p50ms.toFixed(2)} | ${r.p99ms.toFixed(2)} | ${(r.perSec / one(r).perSec).toFixed(2)} | ${r.rowWrites.toFixed(3)} | ${r.engine.toFixed(3)} | ${r.statements.toFixed(3)} | ${r.errors} |`,
    ),
  ].join('\n');
  const lines = rows
    .filter((r) => r.processes > 1 && !r.control)
    .map((r) => {
      const ratio = r.perSec / one(r).perSec;
      const level = r.name.includes('HTTP') ? 'HTTP' : 'in-process';
      return `hot ${level} ${r.processes}/1 processes = ${ratio.toFixed(2)}   (target ≥ 1.00) ${ratio >= 1 ? 'met' : 'MISSED'}`;
    });
  for (const c of rows.filter((r) => r.control)) {
    const hot = rows.find((r) => !r.control && r.processes === c.processes && !r.name.includes('HTTP'));
    lines.push(
      `control in-process ${c.processes}/1 processes, no shared row = ${(c.perSec / one(c).perSec).toFixed(2)}   (no target: the machine's ceiling for ${c.processes} processes)`,
    );
    if (hot) {
      lines.push(
        `hot in-process ${c.processes} processes / the control = ${(hot.perSec / c.perSec).toFixed(2)}   (no target: what the shared row itself costs)`,
      );
    }
  }
  return { table, lines };
}
