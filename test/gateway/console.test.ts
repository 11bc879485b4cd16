import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { signInConsole } from '../support/console-signin.js';
import { gatewayEnv, startGateway } from '../support/gateway.js';

/** The console the main job mounts: its URL in the banner, the banner's admin key signs in. */

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe.each([
  ['without AGENTKEY_SECRET_KEYS', {}],
  [
    'with AGENTKEY_SECRET_KEYS (approvals and the audit log on)',
    { AGENTKEY_SECRET_KEYS: `k1:${randomBytes(32).toString('base64')}` },
  ],
])('the gateway mounts the console, %s', (_what, extra: Record<string, string>) => {
  it('prints its URL; the page asks to sign in; the admin key signs in and sees the demo key; the demo key cannot', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agentkey-gateway-console-'));
    dirs.push(dir);
    const gw = await startGateway('node', ['--port', '0', '--data', dir], gatewayEnv(extra));
    try {
      const url = /console: {3}(\S+)/.exec(gw.banner)?.[1];
      expect(url).toBe(`${gw.url}/agentkey`);
      const first = await fetch(`${url}/keys`, { redirect: 'manual' });
      expect(first.status).toBe(303);
      expect(first.headers.get('location')).toBe('/agentkey/signin');

      expect((await signInConsole(url!, gw.demo.key)).status).toBe(401);
      const signed = await signInConsole(url!, gw.admin.key);
      expect(signed.status).toBe(303);
      const cookie = signed.cookie!;
      const keys = await fetch(`${url}/keys`, { headers: { cookie } });
      expect(keys.status).toBe(200);
      expect(await keys.text()).toContain(`/agentkey/keys/${gw.demo.id}`);
      const audit = await fetch(`${url}/audit`, { headers: { cookie } });
      const text = await audit.text();
      if (extra.AGENTKEY_SECRET_KEYS) expect(text).toContain('console.signin');
      else expect(text).toContain('need <code>@agentkey/access</code>');
    } finally {
      await gw.stop();
    }
  }, 120_000);
});
