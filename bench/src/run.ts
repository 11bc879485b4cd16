/**
 * agentkey benchmarks: every scenario in one process, one run, against the same PostgreSQL, with
 * the same client count, printed as ratios to the ceiling measured in the same run.
 *
 *   pnpm bench                          # 10 interleaved rounds of 1 s per scenario
 *   pnpm bench --seconds 5 --rounds 3 --record   # also rewrite bench/RESULTS.md
 *   pnpm bench --only f,g               # the ceiling and the named scenarios only (never recorded)
 *   pnpm bench --only scale             # (s1)–(s4): authorize on 1,000 vs 1,000,000 keys
 *   pnpm bench --only hot               # the hot-key scenarios only: 1, 2, 4 processes on one key
 *   pnpm bench --only redis             # (r1)–(r6), (rs1)–(rs2), (rh): Redis vs PostgreSQL-only
 *   pnpm bench --only console           # the console's pages over HTTP, 100k keys / 1M ledger rows
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import pg from 'pg';
import { interleave, type Measurement, type Scenario, table } from './harness.js';
import { coreScenarios } from './scenarios/core.js';
import { engineScenarios } from './scenarios/engine.js';
import { hotReport, hotScenarios } from './scenarios/hot.js';
import { redisScenarios } from './scenarios/redis.js';
import { redisHotLines, redisHotScenarios } from './scenarios/redis-hot.js';
import { redisScaleScenarios } from './scenarios/redis-scale.js';
import { type ScaleTables, scaleScenarios } from './scenarios/scale.js';
import { verifierScenarios } from './scenarios/verifiers.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) || fallback : fallback;
};
// Ten 1-second windows per scenario, interleaved: this machine's commit latency drifts over
// seconds, and fine interleaving lands that drift on every scenario alike (10 s each in total).
const seconds = arg('--seconds', 1);
const rounds = arg('--rounds', 10);
const onlyAt = process.argv.indexOf('--only');
/** Scenario letters to run beside the ceiling, for quick comparisons while working on one path. */
const only = onlyAt > 0 ? new Set((process.argv[onlyAt + 1] ?? '').split(',').map((s) => s.trim())) : null;
if (only?.delete('scale')) for (const s of ['s1', 's2', 's3', 's4']) only.add(s);
if (only?.delete('redis'))
  for (const s of ['r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'rs1', 'rs2', 'rh']) only.add(s);
const record = process.argv.includes('--record') && only === null;
if (only?.has('console')) {
  // Latency per page, not throughput: its own data and report (scenarios/console.ts).
  const { consoleBench } = await import('./scenarios/console.js');
  console.log(await consoleBench(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'));
  process.exit(0);
}
export const CLIENTS = 32;
export const KEYS = 100;
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const schema = `bench_${randomBytes(4).toString('hex')}`;
const admin = new pg.Pool({ connectionString: url, max: 2 });
await admin.query(`CREATE SCHEMA ${schema}`);
const pool = new pg.Pool({ connectionString: url, max: CLIENTS });
const cleanups: Array<() => Promise<unknown>> = [];
let poolEnded = false;

try {
  const scenarios: Scenario[] = [];
  /** `scenario`'s throughput over `versus`'s (default: the ceiling, which runs first) must reach `min`. */
  const targets: Array<{ label: string; scenario: string; min: number; versus?: string }> = [];
  const notes: Array<(results: Measurement[]) => string[]> = [];
  const core = await coreScenarios({ pool, admin, schema, keys: KEYS });
  scenarios.push(...core.scenarios);
  targets.push(...core.targets);
  const verifiers = await verifierScenarios({
    ak: core.ak,
    identities: KEYS,
    native: core.scenarios.find((s) => s.name.startsWith('(c)'))!.name,
  });
  cleanups.push(verifiers.close);
  scenarios.push(...verifiers.scenarios);
  targets.push(...verifiers.targets);
  notes.push(verifiers.notes);
  const engine = await engineScenarios({ pool, admin, schema, keys: KEYS });
  scenarios.push(...engine.scenarios);
  targets.push(...engine.targets);
  // Issue 12: authorize on 100 keys, ledger on, against the least work any design must do.
  const grouped = core.scenarios.find((s) => s.name.startsWith('(a2)'));
  if (grouped)
    targets.push({
      label: 'f/a2 authorize, ledger on / the group-committed ceiling',
      scenario: engine.targets[0]!.scenario,
      min: 0.6,
      versus: grouped.name,
    });
  const redis = await redisScenarios({ admin, url, schema, keys: KEYS, redisUrl });
  cleanups.push(redis.close);
  scenarios.push(...redis.scenarios);
  targets.push(...redis.targets);
  notes.push(redis.notes);
  // A million rows take a while to write: made only when (s1)–(s4) or (rs1)–(rs2) run.
  let scaleTables: ScaleTables | undefined;
  if (!only || ['s1', 's2', 's3', 's4'].some((s) => only.has(s))) {
    const scale = await scaleScenarios({ pool, admin, schema, large: arg('--scale-keys', 1_000_000) });
    scenarios.push(...scale.scenarios);
    notes.push(scale.notes);
    scaleTables = scale.tables;
  }
  if (!only || ['rs1', 'rs2'].some((s) => only.has(s))) {
    const scale = await redisScaleScenarios({
      pool,
      admin,
      schema,
      redisUrl,
      large: arg('--scale-keys', 1_000_000),
      ...(scaleTables ? { tables: scaleTables } : {}),
    });
    cleanups.push(scale.close);
    scenarios.push(...scale.scenarios);
    notes.push(scale.notes);
  }

  const letter = (name: string) => /^\((\w+)\)/.exec(name)?.[1] ?? '';
  const chosen = only ? scenarios.filter((s, i) => i === 0 || only.has(letter(s.name))) : scenarios;
  // `--only hot` alone skips the in-process scenarios (the ceiling too).
  const results =
    only?.has('hot') && chosen.length === 1 ? [] : await interleave(chosen, CLIENTS, seconds, rounds);
  // The main pool's connections go back to the server first: the hot scenarios' processes open their own.
  await pool.end();
  poolEnded = true;
  const hot =
    only === null || only.has('hot')
      ? hotReport(await hotScenarios({ admin, schema, url, clients: CLIENTS }, seconds, rounds))
      : null;
  const ceiling = results[0];
  const perSec = (name: string) => results.find((r) => r.name === name)?.perSec ?? Number.NaN;
  const ratio = (name: string, versus?: string) =>
    perSec(name) / (versus ? perSec(versus) : (ceiling?.perSec ?? Number.NaN));
  const header = [
    `agentkey bench — ${new Date().toISOString()}`,
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, PostgreSQL ${(await admin.query('SHOW server_version')).rows[0].server_version}`,
    `${CLIENTS} concurrent clients over ${KEYS} keys (and ${KEYS} identities per verifier); ${rounds} interleaved rounds of ${seconds} s per scenario after warm-up;`,
    'every scenario (the ceiling too) is the mean of its rounds',
  ].join('\n');
  const ran = (name: string) => results.some((r) => r.name === name);
  const lines = targets
    .filter((t) => ran(t.scenario) && (!t.versus || ran(t.versus)))
    .map((t) => {
      const r = ratio(t.scenario, t.versus);
      return `${t.label} = ${r.toFixed(2)}   (target ≥ ${t.min.toFixed(2)}) ${r >= t.min ? 'met' : 'MISSED'}`;
    });
  lines.push(...notes.flatMap((note) => note(results)));
  if (!only || only.has('r1') || only.has('r2'))
    lines.push(...(await redis.transactionsDuringRefusals(CLIENTS, seconds)));
  if (!only || only.has('rh'))
    lines.push(
      ...redisHotLines(
        await redisHotScenarios({ admin, schema, url, redisUrl, clients: CLIENTS }, seconds, rounds),
      ),
    );
  lines.push(...(hot?.lines ?? []));
  const batched = results.find((r) => r.name.startsWith('(a2)'));
  const tables = [ceiling ? table(results, ceiling, batched) : '', hot?.table ?? ''].filter(Boolean);
  const report = `${header}\n\n${tables.join('\n\n')}\n\n${lines.join('\n')}\n`;
  console.log(report);
  if (record) {
    writeFileSync(
      new URL('../RESULTS.md', import.meta.url),
      `# Benchmark results\n\nLatest output of \`npx -y pnpm@10 bench --record\` (bench/src/run.ts), on this project's 2-core machine.\n\n\`\`\`\n${report}\`\`\`\n`,
    );
  }
} finally {
  for (const c of cleanups) await c();
  if (!poolEnded) await pool.end();
  await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  await admin.end();
}
