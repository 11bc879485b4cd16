import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactsDir, browserAvailability, launch } from './support/browser.js';
import { auditRows, type ConsoleApp, startConsole } from './support/console-app.js';
import { type Idp, startIdp } from './support/idp.js';

const available = browserAvailability();
if (!available.run) console.warn(`packages/console/test/oidc-browser.test.ts ${available.reason}`);

// The provider on `localhost`, the console on 127.0.0.1: two sites. The person leaves the
// provider's login page by its form, so the way back is a cross-site navigation: a Strict cookie
// is not sent on it (the round trip's must be Lax), nor on its redirect onwards.
describe.runIf(available.run)('OIDC sign-in in a real headless chromium, across sites', () => {
  let c: ConsoleApp;
  let idp: Idp;
  let browser: Awaited<ReturnType<typeof launch>>;
  let page: Page;

  beforeAll(async () => {
    c = await startConsole(async (url) => {
      idp = await startIdp([`${url}/oidc/callback`], 'localhost');
      return {
        oidc: {
          issuer: idp.issuer,
          clientId: idp.clientId,
          clientSecret: idp.clientSecret,
          allowInsecureIssuer: true,
        },
      };
    });
    browser = await launch();
    page = await browser.context.newPage();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await c?.close();
    await idp?.close();
  });

  it('an admin goes to the provider and back, and lands signed in on the overview', async () => {
    idp.loginAs({ sub: 'ops-42', email: 'ops@example.com', roles: ['console:admin'] });
    await page.goto(`${c.url}/signin`);
    await page.click('a[href="/agentkey/oidc/login"]');
    await page.click('#idp-login');
    await page.waitForURL(`${c.url}/`);
    expect(await page.textContent('header .signout span')).toBe('ops@example.com');
    await page.screenshot({ path: join(artifactsDir(), 'oidc-signed-in.png'), fullPage: true });
    expect((await auditRows(c)).at(-1)).toMatchObject({
      action: 'console.signin',
      actor: { kind: 'human', id: 'console:ops@example.com#oidc:ops-42' },
    });
    const cookies = await browser.context.cookies(c.url);
    expect(cookies.find((k) => k.name === 'akc_session')).toMatchObject({
      httpOnly: true,
      sameSite: 'Strict',
    });
    expect(cookies.find((k) => k.name === 'akc_oidc')).toBeUndefined();
  });

  it('a human without the admin role comes back to the sign-in page, told why', async () => {
    await browser.context.clearCookies();
    idp.loginAs({ sub: 'guest-1', email: 'guest@example.com', roles: [] });
    await page.goto(`${c.url}/signin`);
    await page.click('a[href="/agentkey/oidc/login"]');
    await page.click('#idp-login');
    await page.waitForSelector('p.error');
    expect(await page.textContent('p.error')).toContain('guest@example.com is not a console admin');
    await page.goto(`${c.url}/`);
    expect(new URL(page.url()).pathname).toBe('/agentkey/signin');
  });
});
