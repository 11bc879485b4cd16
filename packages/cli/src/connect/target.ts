import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CliError } from '../errors.js';
import type { Io } from '../io.js';
import { defaultDataFolder, liveGateway, pgliteDirOf } from './data-folder.js';

export interface ConnectionOptions {
  databaseUrl?: string;
  pglite?: string;
  table?: string;
}

/** Where a command's store lives, decided before anything connects. */
export type Target =
  | { kind: 'postgres'; url: string; table: string; label: string }
  | { kind: 'pglite'; dir: string; table: string; label: string; lock: string | null; shown: string };

/**
 * `--database-url`; else `--pglite DIR` (a flag beats the environment: with DATABASE_URL set,
 * `--pglite` still means that folder); else DATABASE_URL; else the gateway's folder. A folder a live
 * gateway holds is reached through the URL it publishes, never opened a second time (PGlite has
 * one writer); `create` lets `migrate` make a folder that does not exist yet.
 */
export function resolveTarget(options: ConnectionOptions, io: Io, create: boolean): Target {
  const url = options.databaseUrl ?? (options.pglite === undefined ? io.env.DATABASE_URL : undefined);
  const tableGiven = options.table ?? io.env.AGENTKEY_TABLE;
  if (url) return { kind: 'postgres', url, table: tableGiven ?? 'sdk_api_keys', label: describeUrl(url) };
  const explicit = options.pglite !== undefined;
  const { data, pglite } = explicit
    ? pgliteDirOf(options.pglite!, io)
    : { data: defaultDataFolder(io), pglite: `${defaultDataFolder(io)}/pglite` };
  const near = relative(io.cwd, pglite);
  const shown = near === '' ? '.' : near.startsWith('..') ? pglite : near;
  const gateway = data ? liveGateway(data) : null;
  if (gateway) {
    const table = tableGiven ?? gateway.table ?? 'sdk_api_keys';
    if (gateway.databaseUrl)
      return {
        kind: 'postgres',
        url: gateway.databaseUrl,
        table,
        label: `the gateway's database (pid ${gateway.pid})`,
      };
    throw new CliError(
      `the gateway (pid ${gateway.pid}${gateway.url ? `, ${gateway.url}` : ''}) holds ${shown} and serves no database URL: stop it first, or run it with DATABASE_URL and pass --database-url`,
    );
  }
  const found = pgliteFolder(pglite, shown);
  if (!create && found !== 'database') {
    throw new CliError(
      `no database at ${shown}: start the gateway (npx -y pnpm@10 start), run \`agentkey migrate --pglite DIR\`, or pass --database-url`,
    );
  }
  return {
    kind: 'pglite',
    dir: pglite,
    table: tableGiven ?? 'sdk_api_keys',
    label: `the PGlite database at ${shown}`,
    lock: data ? join(data, 'gateway.lock') : join(pglite, 'agentkey.lock'),
    shown,
  };
}

/**
 * What is at a PGlite path: a database (its PG_VERSION), nothing yet (absent or an empty folder: a
 * database may be made there), or else a refusal — a file, or a folder holding something else,
 * which PGlite would fill with a new database's files.
 */
function pgliteFolder(dir: string, shown: string): 'database' | 'none' {
  let entries: string[];
  try {
    if (!existsSync(dir)) return 'none';
    if (!statSync(dir).isDirectory())
      throw new CliError(`${shown} is not a folder: --pglite takes a PGlite database's folder`);
    if (existsSync(join(dir, 'PG_VERSION'))) return 'database';
    entries = readdirSync(dir);
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`cannot read ${shown} (${(error as { code?: string }).code ?? String(error)})`);
  }
  if (entries.length === 0) return 'none';
  throw new CliError(
    `${shown} is not a PGlite database (no PG_VERSION) and not empty: pass the folder \`agentkey migrate --pglite DIR\` made, or a new or empty one`,
  );
}

/** A database URL without its password, for messages. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `the database at ${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`;
  } catch {
    throw new CliError('--database-url is not a URL (postgres://user@host:5432/db)');
  }
}
