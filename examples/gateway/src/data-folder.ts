/**
 * The data folder (notes/contracts.md): `<data>/pglite/`, the dev issuer's secrets, and, while a
 * gateway runs on PGlite, `<data>/gateway.json` telling the CLI where it is and the URL of the
 * served database. PGlite is opened by one process, so one gateway per folder: `<data>/gateway.lock` (created exclusively, holding the pid)
 * keeps a second one out with one line; a lock whose process is gone is taken over.
 */

import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from './config.js';

export interface GatewayFile {
  pid: number;
  port: number;
  url: string;
  /**
   * The embedded PGlite served on 127.0.0.1 (pglite-server.ts), with its password: the file is
   * written 0600. Any local process that can read it can use the database while the gateway runs.
   */
  databaseUrl: string | null;
  table: string;
}

export function lockFolder(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const lock = join(dataDir, 'gateway.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      let held = true;
      return () => {
        if (held) rmSync(lock, { force: true });
        held = false;
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number(readFileSync(lock, 'utf8').trim());
      if (alive(pid)) {
        const url = runningUrl(dataDir);
        throw new ConfigError(
          `${dataDir} is in use by another gateway (pid ${pid}${url ? `, ${url}` : ''}): stop it, or start this one with --data DIR`,
        );
      }
      rmSync(lock, { force: true }); // stale: its process is gone
    }
  }
  throw new ConfigError(`${dataDir}/gateway.lock keeps reappearing: another gateway is starting there`);
}

export function writeGatewayFile(dataDir: string, file: GatewayFile): () => void {
  const path = join(dataDir, 'gateway.json');
  // 0600: it carries the served database's password.
  writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return () => rmSync(path, { force: true });
}

function runningUrl(dataDir: string): string | null {
  try {
    return (JSON.parse(readFileSync(join(dataDir, 'gateway.json'), 'utf8')) as GatewayFile).url ?? null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
