import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Io, main } from '@agentkey/cli';
import { AgentKey, type AgentKeyOptions, fromPGlite, type Queryable } from '@agentkey/core';
import { databaseUrl, openDb, type TestDb } from '@agentkey/test-support/db.js';
import { PGlite } from '@electric-sql/pglite';

export interface Ran {
  code: number;
  out: string;
  err: string;
}

const repo = fileURLToPath(new URL('../../../..', import.meta.url));
const MAIN = join(repo, 'packages/cli/src/main.ts');
// By URL: `--import tsx` would resolve from the child's working directory, a temporary folder.
const TSX = pathToFileURL(join(repo, 'node_modules/tsx/dist/loader.mjs')).href;

/**
 * Where a test's CLI runs: a fresh schema on the shared PostgreSQL (`--table schema.sdk_api_keys`
 * through DATABASE_URL), or a fresh PGlite folder (`--pglite DIR`). `cwd` is an empty folder, so
 * the default data folder (./.agentkey) is never the repository's.
 */
export interface Place {
  backend: 'postgres' | 'pglite';
  cwd: string;
  env: Record<string, string>;
  /** The connection arguments every command of this place takes. */
  args: string[];
  /**
   * A store on the same database, for what the CLI does not do (charges, holds, an agent's access
   * request); `pool` is what it runs on. Closed after `fn`.
   */
  withStore<R>(
    fn: (ak: AgentKey, pool: Queryable) => Promise<R>,
    options?: Partial<AgentKeyOptions>,
  ): Promise<R>;
  close(): Promise<void>;
}

export async function openPlace(backend: 'postgres' | 'pglite'): Promise<Place> {
  const cwd = mkdtempSync(join(tmpdir(), 'agentkey-cli-'));
  const cleanup = () => rmSync(cwd, { recursive: true, force: true });
  if (backend === 'pglite') {
    // The gateway's layout: the default data folder of `cwd` (./.agentkey) holds pglite/.
    const dir = join(cwd, '.agentkey', 'pglite');
    return {
      backend,
      cwd,
      env: {},
      args: ['--pglite', dir],
      // PGlite has one writer: the store opens the folder only while the CLI has it closed.
      async withStore(fn, options = {}) {
        const db = await PGlite.create(dir);
        try {
          const pool = fromPGlite(db);
          return await fn(new AgentKey({ pool, ...options }), pool);
        } finally {
          await db.close();
        }
      },
      close: async () => cleanup(),
    };
  }
  const db: TestDb = await openDb('postgres');
  return {
    backend,
    cwd,
    env: { DATABASE_URL: databaseUrl() },
    args: ['--table', db.table],
    withStore: (fn, options = {}) =>
      fn(new AgentKey({ pool: db.pool, tableName: db.table, ...options }), db.pool),
    async close() {
      await db.close();
      cleanup();
    },
  };
}

/** The CLI's main(argv) in this process: real parsing, output and exit code, no process start. */
export async function run(
  place: Pick<Place, 'cwd' | 'env' | 'args'> | null,
  argv: string[],
  options: {
    tty?: boolean;
    env?: Record<string, string>;
    signal?: AbortSignal;
    onOut?: (text: string) => void;
    /** Standard input: text (piped, then its end), or a stream (a terminal stand-in). Default: empty. */
    stdin?: string | Io['stdin'];
  } = {},
): Promise<Ran> {
  const stdin = typeof options.stdin === 'object' ? options.stdin : Readable.from([options.stdin ?? '']);
  let out = '';
  let err = '';
  const code = await main([...argv, ...(place?.args ?? [])], {
    out: (text) => {
      out += text;
      options.onOut?.(out);
    },
    err: (text) => {
      err += text;
    },
    tty: options.tty ?? false,
    env: { ...(place?.env ?? {}), ...(options.env ?? {}) },
    cwd: place?.cwd ?? tmpdir(),
    stdin,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return { code, out, err };
}

/** Runs `argv` and returns its stdout parsed as JSON, failing with its stderr if it did not exit 0. */
export async function json<T = unknown>(place: Place, argv: string[]): Promise<T> {
  const ran = await run(place, [...argv, '--json']);
  if (ran.code !== 0) throw new Error(`agentkey ${argv.join(' ')} exited ${ran.code}: ${ran.err}`);
  return JSON.parse(ran.out) as T;
}

/** The `agentkey` command as a child process, as the root script starts it. */
export function start(
  argv: string[],
  options: { cwd?: string; env?: Record<string, string>; input?: string } = {},
): ChildProcess & { done: Promise<Ran> } {
  const child = spawn(process.execPath, ['--conditions=source', '--import', TSX, MAIN, ...argv], {
    cwd: options.cwd ?? repo,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env },
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (options.input !== undefined) child.stdin!.end(options.input);
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk) => {
    out += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    err += chunk;
  });
  const done = new Promise<Ran>((resolve) =>
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : -1), out, err })),
  );
  return Object.assign(child, { done });
}

/** Spawns `argv` in `place` and waits for it to exit. */
export function spawnCli(
  place: Place | null,
  argv: string[],
  env: Record<string, string> = {},
  input?: string,
): Promise<Ran> {
  return start([...argv, ...(place?.args ?? [])], {
    ...(place ? { cwd: place.cwd } : {}),
    env: { ...(place?.env ?? {}), ...env },
    ...(input !== undefined ? { input } : {}),
  }).done;
}
