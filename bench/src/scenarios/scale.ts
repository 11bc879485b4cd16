import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { AgentKey, type AgentKeyOptions } from '@agentkey/core';
import type pg from 'pg';
import type { Measurement, Scenario } from '../harness.js';

/** The two table sizes the scale target compares. */
export const SMALL = 1_000;
export const LARGE = 1_000_000;
/** `authorize`'s p50 on LARGE keys over its p50 on SMALL must stay within this. */
export const MAX_P50_RATIO = 1.2;
const BIG = 2_000_000_000;

export interface ScaleSetup {
  pool: pg.Pool;
  admin: pg.Pool;
  schema: string;
  /** Keys in the large table (default LARGE; smaller for a quick look). */
  large?: number;
  /**
   * Another counter in front of PostgreSQL (e.g. Redis): the options each store gets, given its
   * table's name. Scenario names then say `label`.
   */
  variant?: { label: string; options: (tableName: string) => Partial<AgentKeyOptions>; letter?: string };
  /**
   * Tables an earlier call made (its `tables`), used as they are instead of making new ones: the
   * variant then runs on the same deployment, and the run holds one table of a million keys, not
   * two competing for the same buffer cache between rounds.
   */
  tables?: ScaleTables;
}

/** The tables of one scaleScenarios call, by size: each one's name and the seed of its keys. */
export type ScaleTables = Map<number, { tableName: string; seed: string }>;

/**
 * The i-th key of a table made in bulk: `ak_` and 48 hex characters, derived from the table's
 * seed so that SQL (which writes the row) and this process (which presents the key) agree without
 * a million keys in memory. The row's key_hash is SHA-256 hex of the whole key, as
 * packages/core/src/keys/secret.ts computes it.
 */
export function bulkKey(seed: string, i: number): string {
  return `ak_${createHash('sha256').update(`${seed}:${i}`).digest('hex').slice(0, 48)}`;
}

/**
 * Fills `table` (migrated, holding `template`, one key made by `create`) up to `n` rows in one
 * INSERT … SELECT over generate_series: every column as the template has it, but the key's hash
 * and shown prefix (computed in SQL with PostgreSQL's sha256) and the account (1,000 accounts).
 */
export async function fillBulk(admin: pg.Pool, table: string, templateId: number, seed: string, n: number) {
  const [schema, name] = table.split('.');
  const { rows } = await admin.query(
    `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2
       AND column_name NOT IN ('id', 'key_hash', 'key_prefix', 'account_id', 'created_at') ORDER BY ordinal_position`,
    [schema, name],
  );
  const copied = rows.map((r) => `"${r.column_name as string}"`).join(', ');
  const key = `'ak_' || left(encode(sha256(convert_to($1::text || ':' || g, 'UTF8')), 'hex'), 48)`;
  await admin.query(
    `INSERT INTO ${table} (key_hash, key_prefix, account_id, ${copied})
     SELECT encode(sha256(convert_to(k.key, 'UTF8')), 'hex'), left(k.key, 11), 'acct_' || (g % 1000), ${copied}
       FROM generate_series(0, $2::int - 1) g
       CROSS JOIN LATERAL (SELECT ${key} AS key) k
       CROSS JOIN (SELECT ${copied} FROM ${table} WHERE id = $3) t`,
    [seed, n, templateId],
  );
  await admin.query(`DELETE FROM ${table} WHERE id = $1`, [templateId]);
  // A table of a million keys in production grew over months and autovacuum has been through it:
  // its pages carry hint bits and a visibility map. Fresh from one INSERT they carry neither, and
  // the first calls to read each page set them, dirtying pages that backends then write out
  // themselves (auto_explain: ~65 pages read and ~65 written per 32-call batch) — the bulk load's
  // cost, not authorize's. VACUUM and a checkpoint leave the table as a live one would be.
  await admin.query(`VACUUM (ANALYZE) ${table}`);
  await admin.query('CHECKPOINT').catch(() => {
    // Not a superuser (nor pg_checkpoint): the checkpointer gets there on its own schedule.
  });
}

/**
 * (s1), (s2): `authorize` (costCents 1, ledger on) with a key chosen at random among all the
 * table's keys, on a table of 1,000 keys and on one of 1,000,000, both made in bulk with SQL.
 * (s3), (s4): the same with `descriptorTtlMs: 0`, so that both sizes read every row's
 * descriptive fields: on 1,000 keys the descriptor cache answers most calls, on a million almost
 * none, and these two say how much of (s2)/(s1) is the table's own cost.
 */
export async function scaleScenarios({ pool, admin, schema, large = LARGE, variant, tables }: ScaleSetup) {
  const made: string[] = [];
  const mine: ScaleTables = new Map();
  const store = async (size: number) => {
    const given = tables?.get(size);
    const tableName = given?.tableName ?? `${schema}.scale_${variant?.letter ?? ''}${size}`;
    const seed = given?.seed ?? `${schema}:${size}`;
    mine.set(size, { tableName, seed });
    const options = { pool, tableName, ...variant?.options(tableName) };
    const ak = new AgentKey(options);
    await ak.migrate();
    if (!given) {
      const { id } = await ak.create({ accountId: 'template', budgetCents: BIG, scopes: ['chat'] });
      const t = performance.now();
      await fillBulk(admin, tableName, id, seed, size);
      made.push(`${size.toLocaleString('en-US')} rows in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    } else made.push(`${size.toLocaleString('en-US')} rows as made above`);
    const uncached = new AgentKey({ ...options, descriptorTtlMs: 0 });
    // No key is kept in memory: the chosen one is derived on each call, for both sizes alike.
    const key = () => bulkKey(seed, Math.floor(Math.random() * size));
    const run = (store: AgentKey) => async () =>
      (await store.authorize(key(), { scope: 'chat', costCents: 1 })).ok;
    return { size, cached: run(ak), uncached: run(uncached) };
  };
  const small = await store(SMALL);
  const big = await store(large);
  const suffix = variant ? `, ${variant.label}` : ', PostgreSQL only';
  // A variant's letters (`rs1`…) sit beside PostgreSQL-only's (`s1`…) in one run.
  const name = (letter: string, size: number, ttl0: boolean) =>
    `(${variant?.letter ?? ''}${letter}) authorize, a random key of ${size.toLocaleString('en-US')}, ledger on${ttl0 ? ', descriptorTtlMs 0' : ''}${suffix} (scale${ttl0 ? '; no target' : ''})`;
  const scenarios: Scenario[] = [
    { name: name('s1', SMALL, false), run: small.cached },
    { name: name('s2', large, false), run: big.cached },
    { name: name('s3', SMALL, true), run: small.uncached },
    { name: name('s4', large, true), run: big.uncached },
  ];
  const names = scenarios.map((s) => s.name);
  return {
    scenarios,
    tables: mine,
    /** The target's line and the uncached pair's, from the run's measurements. */
    notes(results: Measurement[]): string[] {
      const [s1, s2, s3, s4] = names.map((n) => results.find((r) => r.name === n));
      const L = variant?.letter ?? '';
      const lines = [
        `scale${L ? ` (${variant?.label})` : ''}: ${tables ? 'the same tables as (s1)–(s4): ' : 'bulk insert '}${made.join(', ')}`,
      ];
      const pair = (label: string, a: Measurement, b: Measurement) =>
        `${label} p50 = ${(b.p50ms / a.p50ms).toFixed(2)} (p50 ${b.p50ms.toFixed(2)} / ${a.p50ms.toFixed(2)} ms; p99 ${b.p99ms.toFixed(2)} / ${a.p99ms.toFixed(2)} ms)`;
      if (s1 && s2) {
        const met = s2.p50ms / s1.p50ms <= MAX_P50_RATIO;
        lines.push(
          `${pair(`${L}s2/${L}s1`, s1, s2)}   (target ≤ ${MAX_P50_RATIO.toFixed(2)}) ${met ? 'met' : 'MISSED'}`,
        );
      }
      if (s3 && s4) lines.push(`${pair(`${L}s4/${L}s3`, s3, s4)}   (no target: the table's own cost)`);
      return lines;
    },
  };
}
