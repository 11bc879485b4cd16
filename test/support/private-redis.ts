import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';

/**
 * A private redis-server for tests that break Redis: its own port and its own --dir in a
 * temporary directory, never the shared one on 6379. Kill, restart (empty or from a copied
 * snapshot), SIGSTOP/SIGCONT and FLUSHALL act on this process only.
 */
export interface PrivateRedis {
  url: string;
  port: number;
  /** A client for the test itself (FLUSHALL, ACL, reading mirrors). */
  admin(): Redis;
  /** kill -9. */
  kill(): Promise<void>;
  /** Starts it again: from the RDB in its --dir, if one is there. */
  start(): Promise<void>;
  /** Removes the RDB, so the next start is empty. */
  forgetData(): void;
  /** SAVE, then a copy of the RDB (a stale snapshot, once more is written). */
  snapshot(): Promise<string>;
  /** Puts a copied RDB back as the one the next start loads. */
  restore(copy: string): void;
  freeze(): void;
  thaw(): void;
  destroy(): Promise<void>;
}

async function answers(url: string, within = 10_000): Promise<void> {
  const until = Date.now() + within;
  for (;;) {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') return;
    } catch {
      if (Date.now() > until) throw new Error(`private redis-server at ${url} did not start`);
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      probe.disconnect();
    }
  }
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'agentkey-redis-'));
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  const admins: Redis[] = [];
  const exited = (c: ChildProcess) =>
    new Promise<void>((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) resolve();
      else c.once('exit', () => resolve());
    });
  const start = async () => {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    await answers(url);
  };
  const kill = async () => {
    const c = child;
    child = null;
    if (!c) return;
    c.kill('SIGCONT');
    c.kill('SIGKILL');
    await exited(c);
  };
  await start();
  return {
    url,
    port,
    admin() {
      const r = new Redis(url, { maxRetriesPerRequest: 1 });
      r.on('error', () => {});
      admins.push(r);
      return r;
    },
    kill,
    start,
    forgetData: () => rmSync(join(dir, 'dump.rdb'), { force: true }),
    async snapshot() {
      const r = new Redis(url, { maxRetriesPerRequest: 1 });
      r.on('error', () => {});
      try {
        await r.save();
      } finally {
        r.disconnect();
      }
      const copy = join(dir, `copy-${Date.now()}-${Math.random().toString(36).slice(2)}.rdb`);
      copyFileSync(join(dir, 'dump.rdb'), copy);
      return copy;
    },
    restore(copy) {
      if (!existsSync(copy)) throw new Error(`no snapshot ${copy}`);
      copyFileSync(copy, join(dir, 'dump.rdb'));
    },
    freeze: () => child?.kill('SIGSTOP'),
    thaw: () => child?.kill('SIGCONT'),
    async destroy() {
      for (const r of admins) r.disconnect();
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Three private redis-server nodes in cluster mode (masters, no replicas), slots spread over them. */
export interface PrivateCluster {
  nodes: Array<{ host: string; port: number }>;
  destroy(): Promise<void>;
}

export async function startPrivateCluster(): Promise<PrivateCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'agentkey-redis-cluster-'));
  const ports = [await freePort(), await freePort(), await freePort()];
  const children = ports.map((port) =>
    spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { stdio: 'ignore' },
    ),
  );
  const destroy = async () => {
    for (const c of children) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) await answers(`redis://127.0.0.1:${port}`);
    const create = spawn(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { stdio: 'ignore' },
    );
    await new Promise<void>((resolve, reject) =>
      create.once('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`redis-cli --cluster create: ${code}`)),
      ),
    );
    for (const port of ports) {
      const r = new Redis(`redis://127.0.0.1:${port}`, { maxRetriesPerRequest: 1 });
      r.on('error', () => {});
      try {
        for (let i = 0; i < 100 && !/cluster_state:ok/.test(String(await r.call('CLUSTER', 'INFO'))); i++)
          await new Promise((res) => setTimeout(res, 100));
      } finally {
        r.disconnect();
      }
    }
  } catch (error) {
    await destroy();
    throw error;
  }
  return { nodes: ports.map((port) => ({ host: '127.0.0.1', port })), destroy };
}
