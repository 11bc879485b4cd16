import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { CliError } from '../errors.js';
import type { Io } from '../io.js';

/** What a running gateway writes to `<data>/gateway.json` (the data-folder contract), as the CLI reads it. */
export interface GatewayFile {
  pid: number;
  url: string | null;
  databaseUrl: string | null;
  table: string | null;
}

/** The gateway's data folder: `$AGENTKEY_DATA`, else `.agentkey` in the working directory. */
export function defaultDataFolder(io: Io): string {
  const dir = io.env.AGENTKEY_DATA;
  return dir ? resolve(io.cwd, dir) : join(io.cwd, '.agentkey');
}

/** A folder given to `--pglite`: a data folder (it has gateway.json, gateway.lock or pglite/) or a PGlite directory. */
export function pgliteDirOf(dir: string, io: Io): { data: string | null; pglite: string } {
  const abs = isAbsolute(dir) ? dir : resolve(io.cwd, dir);
  if (['gateway.json', 'gateway.lock', 'pglite'].some((name) => existsSync(join(abs, name)))) {
    return { data: abs, pglite: join(abs, 'pglite') };
  }
  // `<data>/pglite` itself: still the gateway's folder, whose gateway.json and lock count.
  if (basename(abs) === 'pglite') return { data: dirname(abs), pglite: abs };
  return { data: null, pglite: abs };
}

/** The live gateway of a data folder, or null (no file, or its process is gone: a stale file is ignored). */
export function liveGateway(data: string): GatewayFile | null {
  const path = join(data, 'gateway.json');
  if (!existsSync(path)) return null;
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new CliError(`${path} is not JSON: remove it if no gateway is running`);
  }
  const pid = parsed.pid;
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0 || !alive(pid)) return null;
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
  return { pid, url: text(parsed.url), databaseUrl: text(parsed.databaseUrl), table: text(parsed.table) };
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, owned by someone else.
    return (error as { code?: string }).code === 'EPERM';
  }
}
