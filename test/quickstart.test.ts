import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type AddressInfo, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { databaseUrl, serverPool } from './support/db.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

/** The scripted tour, as `pnpm quickstart` runs it, with `DATABASE_URL` set or not. */
function start(url: string | undefined) {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  if (url) env.DATABASE_URL = url;
  return run(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', 'examples/quickstart/src/main.ts'],
    {
      cwd: root,
      env,
      timeout: 60_000,
    },
  );
}

async function quickstart(url: string | undefined): Promise<string> {
  return (await start(url)).stdout;
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function expectWholeStory(out: string): void {
  expect(out).toMatch(/call 3: allowed, charged 1\.5¢/);
  expect(out).toMatch(/call 4: refused — budget_exceeded/);
  expect(out).toMatch(/search: refused — insufficient_scope/);
  expect(out).toMatch(/after revoke: refused — invalid_token/);
  expect(out).toMatch(/settled at 2\.0625¢; the rest is free again — agent-a used 2\.0625¢/);
  expect(out).toMatch(/then replayed \(nothing more charged\)/);
  expect(out).toMatch(/asks for 3¢ more: refused — budget_exceeded \(cap: account\)/);
  const [, ledger, counter] = /spent ([\d.]+)¢; its counter says ([\d.]+)¢/.exec(out) ?? [];
  expect(ledger).toBe('7.0625');
  expect(counter).toBe(ledger);
  // It ends by saying where to go from here.
  expect(out).toMatch(/\nNext:\n {2}- README\.md "Quick start".*\n(?: {2}- .*\n)+$/);
}

describe('the scripted tour (pnpm quickstart)', () => {
  it('runs the whole story on embedded PGlite when no database is configured', async () => {
    const out = await quickstart(undefined);
    expect(out).toMatch(/on embedded PGlite/);
    expectWholeStory(out);
  }, 90_000);

  it('an unreachable DATABASE_URL is one line saying what to do, exit code 1, no password', async () => {
    const url = `postgres://agentkey:s3cret-pw@127.0.0.1:${await closedPort()}/app?password=s3cret-pw`;
    const failed = await start(url).then(
      () => null,
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stdout).toBe('');
    expect(failed?.stderr).toMatch(
      /^agentkey quickstart: cannot reach the database at postgres:\/\/agentkey@127\.0\.0\.1:\d+\/app \(ECONNREFUSED\): check DATABASE_URL or unset it to use embedded PGlite\n$/,
    );
    expect(failed?.stderr).not.toContain('s3cret-pw');
  }, 90_000);

  it('runs it on PostgreSQL from DATABASE_URL, and again on the same tables (server only)', async () => {
    const schema = `qs_${randomBytes(6).toString('hex')}`;
    const admin = serverPool();
    await admin.query(`CREATE SCHEMA ${schema}`);
    try {
      const url = new URL(databaseUrl());
      url.searchParams.set('options', `-c search_path=${schema}`);
      for (let i = 0; i < 2; i++) {
        const out = await quickstart(url.toString());
        expect(out).toMatch(/on PostgreSQL at /);
        expectWholeStory(out);
      }
      const tables = await admin.query(
        `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = $1 AND tablename LIKE 'quickstart_keys%'`,
        [schema],
      );
      expect(tables.rows[0].n).toBeGreaterThan(1); // the keys table and the engine's own, in the schema
    } finally {
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    }
  }, 120_000);
});
