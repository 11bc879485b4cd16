import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Whether the browser test can run here. Without chromium it is skipped, saying why, unless CI is
 * set: there a missing browser is a failure (.ci/run installs Debian's chromium).
 */
export function browserAvailability(): { run: boolean; reason: string } {
  if (existsSync(CHROMIUM)) return { run: true, reason: '' };
  if (process.env.CI) return { run: true, reason: `CI is set but ${CHROMIUM} is missing` };
  return {
    run: false,
    reason: `skipped: no chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`,
  };
}

export async function launch(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  if (!existsSync(CHROMIUM))
    throw new Error(`No chromium at ${CHROMIUM}: .ci/run installs it (apt-get install chromium)`);
  const profile = mkdtempSync(join(tmpdir(), 'agentkey-console-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Screenshots go here as test artifacts (git-ignored). */
export function artifactsDir(): string {
  const dir = join(process.cwd(), 'test-artifacts', 'console');
  mkdirSync(dir, { recursive: true });
  return dir;
}
