/**
 * agentkey benchmarks: every scenario in one process, one run, against the same PostgreSQL, with
 * the same client count, printed as ratios to the ceiling measured in the same run.
 *
 *   pnpm bench                 # 5 s per scenario
 *   pnpm bench --seconds 10 --record   # also rewrite bench/RESULTS.md
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { AgentKey } from '@agentkey/core';
import pg from 'pg';
import { type Measurement, measure, table } from './harness.js';

const args = process.argv.slice(2);
const seconds = Number(args[args.indexOf('--seconds') + 1]) || 5;
const record = args.includes('--record');
const CLIENTS = 32;
const KEYS = 100;
const BIG = 2_000_000_000;
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const schema = `bench_${randomBytes(4).toString('hex')}`;
const admin = new pg.Pool({ connectionString: url, max: 2 });
await admin.query(`CREATE SCHEMA ${schema}`);
const pool = new pg.Pool({ connectionString: url, max: CLIENTS });
const pick = (c: number, i: number) => (c * 7919 + i * 104_729) % KEYS;

try {
  const results: Measurement[] = [];

  // (a) The ceiling: the least work any design must do, one conditional UPDATE … RETURNING per request.
  await admin.query(
    `CREATE TABLE ${schema}.ceiling (id int PRIMARY KEY, used bigint NOT NULL, cap bigint NOT NULL)`,
  );
  await admin.query(
    `INSERT INTO ${schema}.ceiling SELECT g, 0, ${BIG} FROM generate_series(0, ${KEYS - 1}) g`,
  );
  const ceilingSql = `UPDATE ${schema}.ceiling SET used = used + 1 WHERE id = $1 AND used + 1 <= cap RETURNING used`;
  const ceiling = await measure(
    '(a) ceiling: one conditional UPDATE … RETURNING',
    CLIENTS,
    seconds,
    async (c, i) => {
      const r = await pool.query(ceilingSql, [pick(c, i)]);
      return r.rows.length === 1;
    },
  );
  results.push(ceiling);

  const ak = new AgentKey({ pool, tableName: `${schema}.sdk_api_keys` });
  await ak.migrate();
  const keys: string[] = [];
  for (let k = 0; k < KEYS; k++) {
    keys.push((await ak.create({ accountId: `acct_${k % 10}`, budgetCents: BIG, scopes: ['chat'] })).key);
  }

  // (b) The drop-in cycle: validate, then trackUsage(1).
  results.push(
    await measure('(b) drop-in: validate + trackUsage(1)', CLIENTS, seconds, async (c, i) => {
      const key = keys[pick(c, i)]!;
      const v = await ak.validate(key);
      if (!v.valid) return false;
      return (await ak.trackUsage(key, { costCents: 1 })).success;
    }),
  );

  // (c) The new request path: one statement checks and charges.
  results.push(
    await measure('(c) authorize, costCents 1', CLIENTS, seconds, async (c, i) => {
      const r = await ak.authorize(keys[pick(c, i)]!, { scope: 'chat', costCents: 1 });
      return r.ok;
    }),
  );

  const [, b, c] = results as [Measurement, Measurement, Measurement];
  const header = [
    `agentkey bench — ${new Date().toISOString()}`,
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ${(await admin.query('SHOW server_version')).rows[0].server_version} PostgreSQL`,
    `${CLIENTS} concurrent clients over ${KEYS} keys, ${seconds} s per scenario after warm-up`,
  ].join('\n');
  const ratios = [
    `b/a = ${(b.perSec / ceiling.perSec).toFixed(2)}   (target ≥ 0.45)`,
    `c/a = ${(c.perSec / ceiling.perSec).toFixed(2)}   (target ≥ 0.80)`,
  ].join('\n');
  const report = `${header}\n\n${table(results, ceiling)}\n\n${ratios}\n`;
  console.log(report);
  if (record) {
    writeFileSync(
      new URL('../RESULTS.md', import.meta.url),
      `# Benchmark results\n\nLatest output of \`pnpm bench --record\` (see bench/src/run.ts).\n\n\`\`\`\n${report}\`\`\`\n`,
    );
  }
} finally {
  await pool.end();
  await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  await admin.end();
}
