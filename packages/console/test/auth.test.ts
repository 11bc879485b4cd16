import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRows, type ConsoleApp, pendingRequest, startConsole } from './support/console-app.js';
import { Client, signedIn } from './support/http.js';

const PAGES = ['/', '/keys', '/keys/1', '/accounts', '/approvals', '/tools', '/audit'];
const ACTIONS = [
  '/keys/1/revoke',
  '/keys/1/topup',
  '/keys/1/budget',
  '/keys/1/scopes',
  '/keys/1/expiry',
  '/requests/1/approve',
  '/requests/1/deny',
  '/grants/1/revoke',
  '/signout',
];

let c: ConsoleApp;
beforeAll(async () => {
  c = await startConsole();
  await pendingRequest(c, 'github', 'agent-a', 'triage');
}, 60_000);
afterAll(() => c?.close());

describe('without a session', () => {
  it.each(PAGES)('GET %s redirects to sign-in', async (path) => {
    const page = await new Client(c.url).get(path);
    expect(page.status).toBe(303);
    expect(page.location).toBe('/agentkey/signin');
  });

  it.each(ACTIONS)('POST %s is a 401 and changes nothing', async (path) => {
    const before = await c.ak.getKey(1);
    const page = await new Client(c.url).post(path, { _csrf: 'x', cents: '5', confirm: 'x' });
    expect(page.status).toBe(401);
    expect(await c.ak.getKey(1)).toEqual(before);
  });

  it('a forged session cookie is no session', async () => {
    const client = new Client(c.url);
    const real = await signedIn(c);
    const token = real.client.cookie.match(/akc_session=([^;]+)/)![1]!;
    const [body] = token.split('.');
    // Another row id under the same signature, and a made-up signature.
    const other = Buffer.from(JSON.stringify({ k: 2, n: 'x', e: Date.now() + 1e6 })).toString('base64url');
    for (const forged of [`${other}.${token.split('.')[1]}`, `${body}.AAAA`, 'garbage']) {
      client.setCookie('akc_session', forged);
      expect((await client.get('/')).status).toBe(303);
    }
  });
});

describe('signing in', () => {
  it('an admin key signs in: an HttpOnly, SameSite=Strict cookie, scoped to the mount path, and the audit row', async () => {
    const client = new Client(c.url);
    const form = await client.get('/signin');
    const res = await client.post('/signin', { _csrf: Client.csrf(form), key: c.admin.key });
    expect(res.status).toBe(303);
    const cookie = res.headers.getSetCookie().find((l) => l.startsWith('akc_session='))!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\/agentkey/);
    expect(cookie).not.toContain(c.admin.key);
    expect((await client.get('/')).status).toBe(200);
    const rows = await auditRows(c);
    expect(rows.at(-1)).toMatchObject({
      action: 'console.signin',
      actor: { kind: 'human', id: `console:alice#${c.admin.id}` },
    });
  });

  it.each([
    ['a key without the admin scope', { scopes: ['chat'] }],
    ['an unrestricted key (no scopes at all)', { scopes: null }],
    ['a key with the gateway admin scope only', { scopes: ['admin'] }],
  ])('%s cannot sign in', async (_what, options) => {
    const key = await c.ak.create({ accountId: 'x', name: 'mallory', ...options });
    const client = new Client(c.url);
    const res = await client.signIn(key.key);
    expect(res.status).toBe(401);
    expect(res.body).toContain('Not an admin key');
    expect(client.cookie).not.toContain('akc_session');
  });

  it('a revoked admin key cannot sign in, and its open sessions end at once', async () => {
    const admin = await c.ak.create({ accountId: 'ops', name: 'bob', scopes: ['console:admin'] });
    const client = new Client(c.url);
    expect((await client.signIn(admin.key)).status).toBe(303);
    expect((await client.get('/keys')).status).toBe(200);
    await c.ak.revoke(admin.id);
    expect((await client.get('/keys')).status).toBe(303);
    expect((await new Client(c.url).signIn(admin.key)).status).toBe(401);
  });

  it('a sign-in post without its form token is refused', async () => {
    const client = new Client(c.url);
    await client.get('/signin');
    const res = await client.post('/signin', { _csrf: 'forged', key: c.admin.key });
    expect(res.status).toBe(403);
    expect(client.cookie).not.toContain('akc_session');
  });
});

describe('CSRF', () => {
  it.each([
    ['missing', undefined],
    ['forged', 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
    ['empty', ''],
  ])('a %s CSRF token is refused (403) and nothing changes', async (_what, token) => {
    const { client } = await signedIn(c);
    const key = await c.ak.create({ accountId: 'x', name: 'victim', budgetCents: 100 });
    const form: Record<string, string> = { cents: '50' };
    if (token !== undefined) form._csrf = token;
    const res = await client.post(`/keys/${key.id}/revoke`, form);
    expect(res.status).toBe(403);
    expect((await c.ak.getKey(key.id))!.revokedAt).toBeNull();
  });

  it("another session's CSRF token is refused", async () => {
    const a = await signedIn(c);
    const b = await signedIn(c);
    const key = await c.ak.create({ accountId: 'x', name: 'victim2' });
    const res = await b.client.post(`/keys/${key.id}/revoke`, { _csrf: a.csrf });
    expect(res.status).toBe(403);
  });
});

describe('every answer', () => {
  it('carries the strict CSP, and pages link scripts as files only', async () => {
    const { client } = await signedIn(c);
    const page = await client.get('/keys/1');
    expect(page.headers.get('content-security-policy')).toBe(
      "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    );
    const scripts = [...page.body.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, inline] of scripts) {
      expect(attrs).toMatch(/src="\/agentkey\/static\//);
      expect(inline).toBe('');
    }
    expect(page.body).not.toMatch(/ on[a-z]+=/i);
    expect(page.body).not.toMatch(/ style=/i);
  });
});
