import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A private redis-server for tests that break it: its own port and its own --dir in a temporary
 * folder, RDB snapshots on (`--save`), never the shared server on 6379.
 */
export interface PrivateRedis {
  readonly url: string;
  readonly port: number;
  /** kill -9: nothing answers, connections drop. */
  kill9(): Promise<void>;
  /** Starts it again from whatever RDB its folder holds (none: empty). */
  start(): Promise<void>;
  /** kill -9, the RDB removed, started again: everything it held is gone. */
  restartEmpty(): Promise<void>;
  /** SAVE, then a copy of the RDB: a snapshot to restore later (`restore`). */
  snapshot(): Promise<string>;
  /** kill -9, the stale snapshot put back, started again from it. */
  restore(snapshot: string): Promise<void>;
  /** SIGSTOP: connections stay open, nothing answers, until `resume`. */
  pause(): void;
  resume(): void;
  /** Any command, on a connection of its own (FLUSHALL, CLIENT KILL, …). */
  command(...args: string[]): Promise<string>;
  /** Stops it (resuming it first) and removes the folder. Safe to call twice. */
  destroy(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** One command in RESP on a fresh connection; the first reply line (or bulk string) as text. */
function send(port: number, args: string[], timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`redis ${args[0]} on ${port}: no answer in ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('data', (chunk) => {
      data += chunk.toString('utf8');
      const end = data.indexOf('\r\n');
      if (end < 0) return;
      const head = data.slice(0, end);
      if (head.startsWith('$') && Number(head.slice(1)) >= 0) {
        const length = Number(head.slice(1));
        if (data.length < end + 2 + length + 2) return;
        data = data.slice(end + 2, end + 2 + length);
      } else if (head.startsWith('-')) {
        clearTimeout(timer);
        socket.destroy();
        return reject(new Error(`redis ${args[0]}: ${head.slice(1)}`));
      } else {
        data = head.slice(1);
      }
      clearTimeout(timer);
      socket.destroy();
      resolve(data);
    });
    socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
  });
}

export async function startRedis(): Promise<PrivateRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'agentkey-redis-'));
  const port = await freePort();
  const rdb = join(dir, 'dump.rdb');
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  let snapshots = 0;

  const start = async () => {
    const proc = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--dbfilename',
        'dump.rdb',
        '--save',
        '3600 1',
        '--appendonly',
        'no',
        '--protected-mode',
        'no',
      ],
      { stdio: 'ignore' },
    );
    child = proc;
    exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    for (let i = 0; ; i++) {
      try {
        if ((await send(port, ['PING'], 500)) === 'PONG') return;
      } catch (error) {
        if (i > 100) throw error;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const kill9 = async () => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGCONT');
    proc.kill('SIGKILL');
    await exited;
    child = null;
  };
  await start();

  const server: PrivateRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill9,
    start,
    async restartEmpty() {
      await kill9();
      rmSync(rdb, { force: true });
      await start();
    },
    async snapshot() {
      await send(port, ['SAVE'], 10_000);
      const copy = join(dir, `snapshot-${++snapshots}.rdb`);
      copyFileSync(rdb, copy);
      return copy;
    },
    async restore(snapshot) {
      await kill9();
      copyFileSync(snapshot, rdb);
      await start();
    },
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
    command: (...args) => send(port, args),
    async destroy() {
      await kill9();
      if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}
