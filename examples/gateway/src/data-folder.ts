/**
 * The data folder (notes/contracts.md): `<data>/pglite/`, the dev issuer's secrets, and, while a
 * gateway runs on PGlite, `<data>/gateway.json` telling the CLI where it is. PGlite has one
 * session, so one gateway per folder: `<data>/gateway.lock` (created exclusively, holding the pid)
 * keeps a second one out with one line; a lock whose process is gone is taken over.
 */

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from './config.js';

export interface GatewayFile {
  pid: number;
  port: number;
  url: string;
  /**
   * Always null: PGlite has one session, and a socket client's transaction could interleave with
   * the gateway's own statements (pglite-socket queues its own clients, not the host's queries),
   * so the embedded database is never served. The CLI says the gateway holds the folder.
   */
  databaseUrl: null;
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
  writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`);
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
