import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { CliError } from '../errors.js';
import { alive } from './data-folder.js';

/**
 * Takes `lock` (created exclusively with the pid) for as long as a command has the folder open:
 * `<data>/gateway.lock` in a gateway's data folder (the file the gateway holds), `agentkey.lock`
 * inside a bare PGlite folder. PGlite has one writer, so a gateway starting meanwhile, or a second
 * command, is kept out instead of one of them losing its writes. A lock whose process is gone is
 * taken over. Returns its release.
 */
export function lockFolder(lock: string, shown: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return () => rmSync(lock, { force: true });
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw error;
      const pid = Number(readFileSync(lock, 'utf8').trim());
      if (Number.isSafeInteger(pid) && pid > 0 && alive(pid)) {
        throw new CliError(
          `${shown} is in use by process ${pid} (a gateway or another agentkey command): try again when it has stopped`,
        );
      }
      rmSync(lock, { force: true });
    }
  }
  throw new CliError(`${lock} keeps reappearing: something else is opening ${shown}`);
}
