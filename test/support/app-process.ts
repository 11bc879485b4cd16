/**
 * Runs an example app (examples/<name>) as its README tells a reader to: the `node …` command of
 * its README, as a child process, configured by environment variables only.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { type Reply, type RequestOptions, requestJson } from '../../packages/express/test/support/http.js';
import { databaseUrl, serverPool } from './db.js';
import { root } from './readme-run.js';

/** The variables an example reads: none leaks in from the test runner's own environment. */
const APP_ENV = /^(DATABASE_URL|PORT|OIDC_|AUTH0_|CLERK_)/;

/** The README's start command for `examples/<name>`, split into node's arguments. */
export function readmeCommand(name: string): string[] {
  const readme = readFileSync(`${root}/examples/${name}/README.md`, 'utf8');
  const line = readme
    .split('\n')
    .find((l) => /(^|\s)node --conditions=source --import tsx examples\//.test(l));
  const argv = line?.slice(line.indexOf('node ')).trim().split(/\s+/);
  if (argv?.at(-1) !== `examples/${name}/src/main.ts`) {
    throw new Error(`examples/${name}/README.md names no \`node … examples/${name}/src/main.ts\` command`);
  }
  return argv.slice(1);
}

function launch(name: string, env: Record<string, string>): ChildProcess {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !APP_ENV.test(k)));
  return spawn(process.execPath, readmeCommand(name), {
    cwd: root,
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export interface Exited {
  code: number | null;
  stdout: string;
  stderr: string;
}

function collect(child: ChildProcess): { output: Exited; exited: Promise<Exited> } {
  const output: Exited = { code: null, stdout: '', stderr: '' };
  child.stdout!.on('data', (chunk) => {
    output.stdout += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    output.stderr += chunk;
  });
  // Hang guard: an app that neither listens nor exits is killed, and the test fails on it.
  const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const exited = new Promise<Exited>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(guard);
      output.code = code;
      resolve(output);
    });
  });
  return { output, exited };
}

/** Runs an app that should refuse to start: its exit code and what it printed. */
export function runToExit(name: string, env: Record<string, string>): Promise<Exited> {
  return collect(launch(name, env)).exited;
}

export interface RunningApp {
  /** The URL the app printed when it started listening. */
  url: string;
  /** Everything printed so far. */
  output: Exited;
  stop(): Promise<Exited>;
}

/** Starts an app and resolves once it prints `listening on http://…`; PORT=0 unless given. */
export async function startApp(name: string, env: Record<string, string>): Promise<RunningApp> {
  const child = launch(name, { PORT: '0', ...env });
  const { output, exited } = collect(child);
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', () => {
      const found = /listening on (http:\/\/\S+)/.exec(output.stdout)?.[1];
      if (found) resolve(found);
    });
    void exited.then((o) => reject(new Error(`${name} exited (${o.code}) before listening:\n${o.stderr}`)));
  });
  return {
    url,
    output,
    stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

export interface AppDatabase {
  /** DATABASE_URL for the app: the shared test database, searching only a fresh schema. */
  url: string;
  /** A pool on that schema, for checking what the app wrote. */
  pool: pg.Pool;
  close(): Promise<void>;
}

/**
 * A fresh schema per test file, reached through `search_path` in the URL: the app keeps its
 * default table name (`sdk_api_keys`), as a reader runs it, and parallel runs never collide.
 */
export async function appDatabase(): Promise<AppDatabase> {
  const schema = `ex_${randomBytes(6).toString('hex')}`;
  const admin = serverPool();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const url = new URL(databaseUrl());
  url.searchParams.set('options', `-c search_path=${schema}`);
  const pool = serverPool(schema, 2);
  return {
    url: url.toString(),
    pool,
    async close() {
      await pool.end();
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    },
  };
}

export interface ExampleApp {
  /** The app's fresh schema (through `db.pool`) and its DATABASE_URL. */
  readonly db: AppDatabase;
  readonly url: string;
  /** One request to the running app, its JSON answer parsed. */
  request(method: string, path: string, options?: RequestOptions): Promise<Reply>;
}

export interface ExampleAppOptions {
  /** Variables beyond DATABASE_URL; called at start, so it may name stand-ins of earlier hooks. */
  env?: () => Record<string, string>;
  /** Runs on the fresh schema before the app starts: a table the app finds already there. */
  prepare?: (db: AppDatabase) => Promise<void>;
}

/**
 * For a test file: before its tests, a fresh schema and `examples/<name>` started on it; after
 * them, both gone.
 */
export function useExampleApp(name: string, options: ExampleAppOptions = {}): ExampleApp {
  let db: AppDatabase | undefined;
  let app: RunningApp | undefined;
  beforeAll(async () => {
    db = await appDatabase();
    await options.prepare?.(db);
    app = await startApp(name, { DATABASE_URL: db.url, ...options.env?.() });
  });
  afterAll(async () => {
    await app?.stop();
    await db?.close();
  });
  return {
    get db() {
      return db!;
    },
    get url() {
      return app!.url;
    },
    request: (method, path, options) => requestJson(`${app!.url}${path}`, method, options),
  };
}
