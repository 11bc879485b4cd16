import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gatewayEnv, startGateway } from '../support/gateway.js';

/** The console the main job mounts: its URL in the banner, the banner's admin key signs in. */

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function form(url: string, cookie: string, body: Record<string, string>) {
  return fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(body).toString(),
  });
}

const cookieOf = (res: Response) =>
  res.headers
    .getSetCookie()
    .map((l) => l.split(';')[0])
    .join('; ');

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

      const signIn = async (key: string) => {
        const page = await fetch(`${url}/signin`);
        const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;
        return form(`${url}/signin`, cookieOf(page), { _csrf: csrf, key });
      };
      expect((await signIn(gw.demo.key)).status).toBe(401);
      const signed = await signIn(gw.admin.key);
      expect(signed.status).toBe(303);
      const keys = await fetch(`${url}/keys`, { headers: { cookie: cookieOf(signed) } });
      expect(keys.status).toBe(200);
      expect(await keys.text()).toContain(`/agentkey/keys/${gw.demo.id}`);
      const audit = await fetch(`${url}/audit`, { headers: { cookie: cookieOf(signed) } });
      const text = await audit.text();
      if (extra.AGENTKEY_SECRET_KEYS) expect(text).toContain('console.signin');
      else expect(text).toContain('need <code>@agentkey/access</code>');
    } finally {
      await gw.stop();
    }
  }, 120_000);
});
