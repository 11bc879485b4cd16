import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startGateway } from '../support/gateway.js';
import { checkRestart, type Walked, walkBanner } from '../support/gateway-walk.js';
import { bannerAsShown, readmeOutput } from '../support/readme-output.js';

/**
 * The README's main command, `npx -y pnpm@10 start -- --port 0 --data <dir>`, in a fresh folder:
 * every step it prints, run through a shell as a reader pastes it; then a restart on that folder.
 */

const dir = mkdtempSync(join(tmpdir(), 'agentkey-gateway-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the main job, as the README starts it', () => {
  let seen: Walked | undefined;

  it('prints steps that work when pasted, one by one', async () => {
    let pid: number | undefined;
    const gw = await startGateway('pnpm', ['--port', '0', '--data', dir]);
    try {
      const file = JSON.parse(readFileSync(join(dir, 'gateway.json'), 'utf8'));
      pid = file.pid;
      expect(file).toEqual({
        pid: expect.any(Number),
        port: Number(new URL(gw.url).port),
        url: gw.url,
        databaseUrl: null,
        table: 'sdk_api_keys',
      });

      // The README shows this banner as it prints (keys and the folder shortened): it must not drift.
      expect(bannerAsShown(gw.banner, dir)).toBe(readmeOutput('npx -y pnpm@10 start')?.trimEnd());

      seen = await walkBanner(gw);
    } finally {
      // npx and pnpm die of the SIGINT; the gateway under them closes cleanly and removes its file.
      expect([0, 'SIGINT']).toContain(await gw.stop(pid));
    }
    expect(existsSync(join(dir, 'gateway.json'))).toBe(false);
    expect(existsSync(join(dir, 'gateway.lock'))).toBe(false);
  }, 300_000);

  it('finds the same keys and spend after a restart on the same folder', async () => {
    if (!seen) throw new Error('the first run did not finish its walk');
    const gw = await startGateway('pnpm', ['--port', '0', '--data', dir]);
    try {
      await checkRestart(gw, seen);
    } finally {
      const { pid } = JSON.parse(readFileSync(join(dir, 'gateway.json'), 'utf8'));
      expect([0, 'SIGINT']).toContain(await gw.stop(pid));
    }
    expect(existsSync(join(dir, 'gateway.json'))).toBe(false);
  }, 300_000);
});
