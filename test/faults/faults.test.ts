import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentKey } from '@agentkey/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster } from './support/cluster.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const TABLE = 'fault_keys';
const TIMEOUT_MS = 1000;
/** A frozen call answers by its deadline; this covers a busy runner's timer and event-loop lag. */
const MARGIN_MS = 500;
/** Answers each worker gives before the fault, and how long they go on once the server is back. */
const WARM_ANSWERS = 50;
const AFTER_MS = 2500;
const DOWN_MS = 2000;
/** The lean key's cap: two workers may reach it, and must never pass it. */
const LEAN_CAP = 1500;

interface Answer {
  op: string;
  t: number;
  ms: number;
  ok: boolean;
  code: string | null;
  idempotencyKey?: string;
  hold?: string | null;
  pending?: number;
}

const lines = (file: string) =>
  existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];

/** A worker process (support/worker.ts): `answers` ends when it has, after `stop` was written. */
function worker(cluster: Cluster, name: string, keys: object, stop: string, poolKind: string) {
  const out = join(tmpdir(), `agentkey-worker-${name}-${process.pid}-${Date.now()}.jsonl`);
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', 'test/faults/support/worker.ts'],
    {
      cwd: root,
      env: {
        ...process.env,
        URL: cluster.url,
        TABLE,
        KEYS: JSON.stringify(keys),
        OUT: out,
        STOP: stop,
        NAME: name,
        TIMEOUT: String(TIMEOUT_MS),
        POOL: poolKind,
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  const answers = new Promise<Answer[]>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code !== 0) return reject(new Error(`worker ${name} exited ${code ?? signal}`));
      resolve(lines(out).map((l) => JSON.parse(l) as Answer));
      rmSync(out, { force: true });
    });
  });
  answers.catch(() => {});
  return { answers, count: () => lines(out).length, kill: () => child.kill('SIGKILL') };
}

async function until(what: string, ok: () => boolean, ms = 30_000) {
  for (const end = Date.now() + ms; !ok(); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Guarantee 6 against a real PostgreSQL that really fails: a private cluster (never the shared
 * one) stopped fast, stopped immediately, killed -9 and frozen with SIGSTOP while two worker
 * processes — one on a default `new pg.Pool()`, one on the README's settings — charge, replay
 * idempotency keys and hold/settle. Afterwards, from the ledger and the counters: every
 * acknowledged charge is there, nothing answered `unavailable` still counts, no idempotency key
 * is charged twice, no cap is passed; during the freeze every call answered by its deadline.
 */
describe('under database faults (private PostgreSQL)', () => {
  let cluster: Cluster;
  let pool: pg.Pool;
  let ak: AgentKey;
  const figures: string[] = [];

  beforeAll(async () => {
    cluster = await startCluster();
    pool = new pg.Pool({ connectionString: cluster.url, max: 2 });
    pool.on('error', () => {});
    ak = new AgentKey({ pool, tableName: TABLE, onError: () => {} });
    await ak.migrate();
  }, 60_000);
  afterAll(async () => {
    await pool?.end().catch(() => {});
    await cluster?.destroy();
    if (figures.length) console.log(`fault suite figures:\n${figures.join('\n')}`);
  }, 60_000);

  const q = async (sql: string, params: unknown[] = []) =>
    (await pool.query(sql.replaceAll('{T}', TABLE), params)).rows;

  const faults: Record<string, (c: Cluster) => Promise<{ from: number; to: number } | undefined>> = {
    'stop -m fast': async (c) => {
      await c.stop('fast');
      await new Promise((r) => setTimeout(r, DOWN_MS));
      await c.start();
      return undefined;
    },
    'stop -m immediate': async (c) => {
      await c.stop('immediate');
      await new Promise((r) => setTimeout(r, DOWN_MS));
      await c.start();
      return undefined;
    },
    'kill -9 postmaster': async (c) => {
      await c.kill9();
      await c.start();
      return undefined;
    },
    SIGSTOP: async (c) => {
      await c.freeze();
      const from = Date.now();
      await new Promise((r) => setTimeout(r, DOWN_MS + 1000));
      const to = Date.now();
      c.thaw();
      return { from, to };
    },
  };

  it.each(Object.keys(faults))(
    '%s: acknowledged charges kept, nothing answered unavailable counts, no double, no cap passed',
    async (mode) => {
      const [lean0, keyed0, holds0] = await Promise.all(
        [LEAN_CAP, 100_000, 100_000].map((budgetCents) => ak.create({ accountId: mode, budgetCents })),
      );
      const keys = { lean: lean0!.key, keyed: keyed0!.key, holds: holds0!.key };
      const ids = { lean: lean0!.id, keyed: keyed0!.id, holds: holds0!.id };

      const tombstones = async () =>
        (await q(`SELECT count(*)::int AS n FROM {T}_requests WHERE kind = 'tombstone'`))[0].n as number;
      const tombstonesBefore = await tombstones();
      const stop = join(tmpdir(), `agentkey-faults-stop-${process.pid}-${Date.now()}`);
      const workers = [
        worker(cluster, `${mode.replace(/\W/g, '')}-a`, keys, stop, 'default'),
        worker(cluster, `${mode.replace(/\W/g, '')}-b`, keys, stop, 'recommended'),
      ];
      let frozen: { from: number; to: number } | undefined;
      let back: number;
      try {
        await until('the workers to start', () => workers.every((w) => w.count() >= WARM_ANSWERS));
        frozen = await faults[mode]!(cluster);
        back = Date.now();
        await new Promise((r) => setTimeout(r, AFTER_MS));
      } finally {
        writeFileSync(stop, '');
        cluster.thaw();
      }
      let answers: Answer[];
      try {
        answers = (await Promise.all(workers.map((w) => w.answers))).flat();
      } finally {
        for (const w of workers) w.kill();
        rmSync(stop, { force: true });
      }
      await pool.query('SELECT 1').catch(() => {}); // a connection of the old server may be dead

      // Each worker resolved everything it had in doubt before it exited.
      expect(answers.filter((a) => a.op === 'done').map((a) => a.pending)).toEqual([0, 0]);
      const calls = answers.filter((a) => a.op !== 'done');
      const unavailable = calls.filter((a) => a.code === 'unavailable').length;
      expect(unavailable, 'the fault was felt').toBeGreaterThan(0);
      // Back in service once the server is: the first call started after it was back passed.
      const after = calls.filter((a) => a.t >= back).sort((x, y) => x.t - y.t);
      const recovered = after.find((a) => a.ok);
      expect(recovered, 'a call passed after the server was back').toBeDefined();

      // Net ledger spend per key (charges, settles, voids) and the counters.
      const net = async (id: number) =>
        (
          await q(
            `SELECT COALESCE(sum(amount_micros), 0)::float8 / 10000 AS cents FROM {T}_ledger
             WHERE principal_id = $1 AND kind IN ('charge', 'settle', 'void')`,
            [id],
          )
        )[0].cents as number;
      const row = async (id: number) =>
        (
          await q(
            'SELECT budget_used_micros::float8 / 10000 AS used, held_micros::float8 AS held FROM {T} WHERE id = $1',
            [id],
          )
        )[0] as { used: number; held: number };

      // Lean charges: what was acknowledged is exactly what the ledger and the counter keep.
      const leanAcked = calls.filter((a) => a.op === 'lean' && a.ok).length;
      const leanNet = await net(ids.lean);
      const lean = await row(ids.lean);
      expect({ ledger: leanNet, counter: lean.used }).toEqual({ ledger: leanAcked, counter: leanAcked });
      expect(lean.used).toBeLessThanOrEqual(LEAN_CAP);

      // Keyed charges: every acknowledged key charged once, every other key not at all.
      const perKey = new Map<string, number>(
        (
          await q(
            `SELECT idempotency_key AS k, sum(amount_micros)::float8 / 10000 AS cents FROM {T}_ledger
             WHERE principal_id = $1 AND kind IN ('charge', 'void') GROUP BY 1`,
            [ids.keyed],
          )
        ).map((r) => [r.k as string, r.cents as number]),
      );
      const ackedKeys = new Set(calls.filter((a) => a.op === 'keyed' && a.ok).map((a) => a.idempotencyKey!));
      const askedKeys = new Set(calls.filter((a) => a.op === 'keyed').map((a) => a.idempotencyKey!));
      const doubles = [...perKey.values()].filter((c) => c > 1).length;
      const keyedGhosts = [...askedKeys].filter((k) => !ackedKeys.has(k) && (perKey.get(k) ?? 0) !== 0);
      const keyedLost = [...ackedKeys].filter((k) => perKey.get(k) !== 1);
      expect({ doubles, ghosts: keyedGhosts, lost: keyedLost }).toEqual({ doubles: 0, ghosts: [], lost: [] });
      expect((await row(ids.keyed)).used).toBe(ackedKeys.size);

      // Holds: only holds whose reserve was acknowledged may be open; only acknowledged settles charged.
      const ackedHolds = new Set(calls.filter((a) => a.op === 'reserve' && a.ok).map((a) => a.hold!));
      const open = (
        await q(
          `SELECT id::text AS id, amount_micros::float8 AS m FROM {T}_holds WHERE principal_id = $1 AND state = 'open'`,
          [ids.holds],
        )
      ).map((r) => r.id as string);
      const ghostHolds = open.filter((id) => !ackedHolds.has(id));
      const settledAcked = calls.filter((a) => a.op === 'settle' && a.ok).length;
      const holds = await row(ids.holds);
      expect({ ghostHolds, used: holds.used, ledger: await net(ids.holds) }).toEqual({
        ghostHolds: [],
        used: settledAcked,
        ledger: settledAcked,
      });
      expect(holds.held).toBe(open.length * 20_000);

      // During a freeze every call answers by its deadline, `unavailable` (never a hang).
      let longest = Math.max(...calls.map((a) => a.ms));
      if (frozen) {
        const during = calls.filter((a) => a.t >= frozen.from && a.t <= frozen.to - TIMEOUT_MS);
        expect(during.length).toBeGreaterThan(0);
        longest = Math.max(...during.map((a) => a.ms));
        expect(longest).toBeLessThanOrEqual(TIMEOUT_MS + MARGIN_MS);
        expect(during.every((a) => a.code === 'unavailable')).toBe(true);
      }
      const [resolved] = await q(
        `SELECT count(*)::int AS voided FROM {T}_ledger WHERE kind = 'void' AND principal_id = ANY($1)`,
        [Object.values(ids)],
      );
      resolved.tombstones = (await tombstones()) - tombstonesBefore;
      const acknowledged = leanAcked + ackedKeys.size + settledAcked;
      const inLedger =
        leanNet + [...ackedKeys].filter((k) => perKey.get(k) === 1).length + (await net(ids.holds));
      figures.push(
        `${mode}: ${calls.length} calls, ${unavailable} unavailable (resolved: ${resolved.voided} voided, ${resolved.tombstones} never committed); acknowledged ${acknowledged} / in ledger ${inLedger} / ghosts ${
          keyedGhosts.length + ghostHolds.length + Math.max(0, leanNet - leanAcked)
        } / doubles ${doubles} / longest answer ${frozen ? 'during the freeze' : 'overall'} ${longest} ms / first pass ${
          recovered!.t - back
        } ms after the server was back`,
      );
    },
    60_000,
  );
});
