import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AgentKey } from '@agentkey/core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { databaseUrl, openStore, type TestDb } from './support/db.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** A worker process (support/rate-worker.ts); `line(n)` is its n-th stdout line (0-based), parsed. */
function worker(env: Record<string, string>) {
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', 'test/support/rate-worker.ts'],
    {
      cwd: root,
      env: { ...process.env, URL: databaseUrl(), ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  const waiting: Array<() => void> = [];
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    for (const wake of waiting.splice(0)) wake();
  });
  const exited = new Promise<never>((_, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`rate worker exited ${code} before answering`)));
  });
  exited.catch(() => {});
  const line = async (n: number): Promise<Record<string, number>> => {
    for (;;) {
      const lines = out.split('\n');
      if (lines.length > n + 1) return JSON.parse(lines[n]!);
      await Promise.race([new Promise<void>((resolve) => waiting.push(resolve)), exited]);
    }
  };
  return { child, line };
}

/**
 * Rate limits across separate Node processes on one PostgreSQL: each process batches and charges
 * on its own, and the windows still count every call exactly once.
 */
describe('rate limits across processes (postgres)', () => {
  let db: TestDb;
  let ak: AgentKey;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    ({ db, ak } = await openStore('postgres', { ledger: true }));
  });
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await db.close();
  });

  // Without Redis, and with a redisCounter in every process (one Redis, one prefix between them).
  it.each([
    ['PostgreSQL alone', false],
    ['a redisCounter', true],
  ])(
    '4 processes × 100 concurrent calls against 50/min admit exactly 50, as the ledger shows (%s)',
    async (_, withRedis) => {
      const { key, id } = await ak.create({ accountId: 'procs', rateLimit: { requests: 50, windowSec: 60 } });
      const go = join(tmpdir(), `agentkey-rate-go-${process.pid}-${Date.now()}`);
      const redis: Record<string, string> = withRedis
        ? { REDIS: inject('redisUrl'), PREFIX: `rate${process.pid}${Date.now()}:` }
        : {};
      const workers = Array.from({ length: 4 }, () =>
        worker({ MODE: 'authorize', TABLE: db.table, KEY: key, CALLS: '100', GO: go, ...redis }),
      );
      children.push(...workers.map((w) => w.child));
      // Every process is up, connected and waiting before any call is made.
      await Promise.all(workers.map((w) => w.line(0)));
      writeFileSync(go, '');
      try {
        const results = await Promise.all(workers.map((w) => w.line(1)));
        const total = (field: string) => results.reduce((sum, r) => sum + r[field]!, 0);
        expect({ ok: total('ok'), limited: total('limited'), other: total('other') }).toEqual({
          ok: 50,
          limited: 350,
          other: 0,
        });
        // The count is shared, not one process's: 50 in all, where four counts of their own would
        // admit 200. Which process wins them is not fixed: the window is judged inside the batch
        // statement (sql/rate-lean.ts), and one process's first batch (up to 64 calls) may take
        // all 50; every process was answered in full, ok or rate_limited.
        expect(results.every((r) => r.ok! + r.limited! === 100)).toBe(true);
      } finally {
        rmSync(go, { force: true });
      }
      const ledger = await db.pool.query(
        `SELECT count(*)::int AS n, sum(amount_micros)::float8 AS m FROM ${db.table}_ledger WHERE principal_id = $1 AND kind = 'charge'`,
        [id],
      );
      expect(ledger.rows[0]).toEqual({ n: 50, m: 50 * 10_000 });
      expect((await ak.getKey(id))!.budget.usedCents).toBe(50);
    },
    60_000,
  );

  it('the /signup limiter holds across 2 app processes: 5 per hour per client in total', async () => {
    const servers = [0, 1].map(() => worker({ MODE: 'signup', TABLE: db.table, SIGNUP_MAX: '5' }));
    children.push(...servers.map((s) => s.child));
    const ports = (await Promise.all(servers.map((s) => s.line(0)))).map((l) => l.port!);
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const reply = await fetch(`http://127.0.0.1:${ports[i % 2]}/signup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      statuses.push(reply.status);
      if (reply.status === 429) expect(Number(reply.headers.get('retry-after'))).toBeGreaterThan(3500);
      await reply.body?.cancel();
    }
    expect(statuses.filter((s) => s === 201)).toHaveLength(5);
    expect(statuses.slice(5).every((s) => s === 429)).toBe(true);
    // Both processes refused: each saw the other's signups.
    expect(new Set([statuses[10], statuses[11]])).toEqual(new Set([429]));
    const made = await db.pool.query(
      `SELECT count(*)::int AS n FROM ${db.table} WHERE account_id LIKE 'anon_%'`,
    );
    expect(made.rows[0].n).toBe(5);
  }, 60_000);
});
