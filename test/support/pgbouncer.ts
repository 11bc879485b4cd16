import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** The env switch that runs a project's tests through a private PgBouncer (vitest.config.ts). */
export const PGBOUNCER_ENV = 'AGENTKEY_TEST_PGBOUNCER';

export function throughPgBouncer(): boolean {
  return process.env[PGBOUNCER_ENV] === '1';
}

export interface Bouncer {
  /** The same database as the upstream URL, through the bouncer. */
  url: string;
  stop(): Promise<void>;
}

/**
 * The pgbouncer.ini of a private bouncer in transaction pooling mode in front of `upstream`, on
 * 127.0.0.1:`port`. The pool is small on purpose: every client transaction waits its turn for one
 * of `poolSize` server connections, as behind a production bouncer.
 */
export function bouncerIni(upstream: URL, port: number, authFile: string, poolSize = 20): string {
  const dbname = decodeURIComponent(upstream.pathname.slice(1)) || 'postgres';
  const host = upstream.hostname || '127.0.0.1';
  return [
    '[databases]',
    `${dbname} = host=${host} port=${upstream.port || 5432} dbname=${dbname}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = trust',
    `auth_file = ${authFile}`,
    'pool_mode = transaction',
    'max_client_conn = 2000',
    `default_pool_size = ${poolSize}`,
    'reserve_pool_size = 0',
    // Only what pg may send on its own; `options` (a startup search_path) stays refused, as in production.
    'ignore_startup_parameters = extra_float_digits',
    'server_lifetime = 3600',
    'log_connections = 0',
    'log_disconnections = 0',
    '',
  ].join('\n');
}

/**
 * Starts `pgbouncer` as a child of this process, in a temp dir of its own, in front of
 * `upstreamUrl`, with `poolSize` server connections; resolves once it answers a query. PgBouncer refuses to run as root: as root it
 * runs as `postgres` (`-u`).
 */
export async function startPgBouncer(upstreamUrl: string, poolSize = 20): Promise<Bouncer> {
  const upstream = new URL(upstreamUrl);
  const user = decodeURIComponent(upstream.username) || 'postgres';
  const dir = mkdtempSync(join(tmpdir(), 'agentkey-pgbouncer-'));
  chmodSync(dir, 0o755);
  const authFile = join(dir, 'users.txt');
  writeFileSync(authFile, `"${user}" ""\n`, { mode: 0o644 });
  const port = await freePort();
  const ini = join(dir, 'pgbouncer.ini');
  writeFileSync(ini, bouncerIni(upstream, port, authFile, poolSize), { mode: 0o644 });
  const asRoot = process.getuid?.() === 0;
  const child = spawn(binary(), [...(asRoot ? ['-u', 'postgres'] : []), ini], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const url = new URL(upstreamUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  url.search = '';
  const stop = async () => {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await untilAnswers(url.toString(), child, () => stderr);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: url.toString(), stop };
}

function binary(): string {
  for (const candidate of ['pgbouncer', '/usr/sbin/pgbouncer']) {
    try {
      execFileSync(candidate, ['--version'], { stdio: 'ignore' });
      return candidate;
    } catch {}
  }
  throw new Error(
    `${PGBOUNCER_ENV}=1 needs the pgbouncer binary (Debian: apt-get install pgbouncer; .ci/run installs it)`,
  );
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

async function untilAnswers(url: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  let last: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`pgbouncer exited with code ${child.exitCode}: ${stderr().trim()}`);
    }
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (error) {
      last = error;
    } finally {
      await client.end().catch(() => {});
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`pgbouncer did not answer within 15 s (${(last as Error)?.message}): ${stderr().trim()}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
