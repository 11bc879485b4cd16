import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { agentKeyConsole } from '@agentkey/console';
import { tableNames } from '@agentkey/core';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRows, type ConsoleApp, startConsole } from './support/console-app.js';
import { Client } from './support/http.js';
import { type Idp, type Person, startIdp } from './support/idp.js';

const ALICE: Person = { sub: 'alice-7f3', email: 'alice@example.com', roles: ['console:admin', 'billing'] };
const MALLORY: Person = { sub: 'mallory-1', email: 'mallory@example.com', roles: ['viewer'] };

let c: ConsoleApp;
let idp: Idp;
beforeAll(async () => {
  c = await startConsole(async (url) => {
    idp = await startIdp([`${url}/oidc/callback`]);
    return {
      oidc: {
        issuer: idp.issuer,
        clientId: idp.clientId,
        clientSecret: idp.clientSecret,
        allowInsecureIssuer: true,
      },
    };
  });
}, 60_000);
afterAll(async () => {
  await c?.close();
  await idp?.close();
});

const flowOf = (t: { flow: string }) => t.flow.slice(0, -2);

/** The console-relative path of a URL the provider sent the browser back to. */
const local = (url: URL) => `${url.pathname.replace(/^\/agentkey/, '')}${url.search}`;

/** Starts a sign-in and walks through the provider as `who`: the client and the callback URL. */
async function throughProvider(who: Person) {
  const client = new Client(c.url);
  const start = await client.get('/oidc/login');
  expect(start.status).toBe(303);
  idp.loginAs(who);
  const back = await idp.authorize(start.location!);
  return { client, start, back, flow: client.cookie.match(/akc_oidc=([^;]+)/)![1]! };
}

describe('OIDC sign-in', () => {
  it('the sign-in page offers the provider; /oidc/login sends the browser there with PKCE, state and nonce', async () => {
    const client = new Client(c.url);
    expect((await client.get('/signin')).body).toContain(
      `href="/agentkey/oidc/login">Sign in with ${idp.issuer}/`,
    );
    const start = await client.get('/oidc/login?return=https://evil.example/');
    const to = new URL(start.location!);
    expect(to.origin).toBe(idp.issuer);
    expect(Object.fromEntries(to.searchParams)).toMatchObject({
      client_id: idp.clientId,
      redirect_uri: `${c.url}/oidc/callback`,
      response_type: 'code',
      scope: 'openid email profile',
      code_challenge_method: 'S256',
      state: expect.stringMatching(/^[\w-]{20,}$/),
      nonce: expect.stringMatching(/^[\w-]{20,}$/),
      code_challenge: expect.stringMatching(/^[\w-]{43}$/),
    });
    const flow = start.headers.getSetCookie().find((l) => l.startsWith('akc_oidc='))!;
    expect(flow).toMatch(/HttpOnly/);
    expect(flow).toMatch(/SameSite=Lax/);
    expect(flow).toMatch(/Path=\/agentkey/);
  });

  it('an admin signs in: a new Strict session, the overview names her, and audit rows name her sub and email', async () => {
    const { client, back } = await throughProvider(ALICE);
    expect(back.href.startsWith(`${c.url}/oidc/callback?`)).toBe(true);
    client.setCookie('akc_session', 'planted-by-someone-else');
    const done = await client.get(local(back));
    expect(done.status).toBe(200);
    // The answer moves on to the console itself, nowhere else.
    expect(done.body).toContain('<meta http-equiv="refresh" content="0;url=/agentkey/">');
    const session = done.headers.getSetCookie().find((l) => l.startsWith('akc_session='))!;
    expect(session).toMatch(/HttpOnly/);
    expect(session).toMatch(/SameSite=Strict/);
    expect(client.cookie).not.toContain('planted-by-someone-else');
    expect(client.cookie).not.toContain('akc_oidc');
    const overview = await client.get('/');
    expect(overview.status).toBe(200);
    expect(overview.body).toContain('alice@example.com');
    const actor = `console:${ALICE.email}#oidc:${ALICE.sub}`;
    expect((await auditRows(c)).at(-1)).toMatchObject({
      action: 'console.signin',
      actor: { kind: 'human', id: actor },
    });

    // Her changes carry her name too, in the audit log and the core ledger.
    const key = await c.ak.create({ accountId: 'x', name: 'victim' });
    const csrf = Client.csrf(overview);
    const confirm = await client.post(`/keys/${key.id}/revoke`, { _csrf: csrf });
    const token = /name="confirm" value="([^"]+)"/.exec(confirm.body)![1]!;
    expect((await client.post(`/keys/${key.id}/revoke`, { _csrf: csrf, confirm: token })).status).toBe(303);
    expect((await c.ak.getKey(key.id))!.revokedAt).not.toBeNull();
    expect((await auditRows(c)).at(-1)).toMatchObject({ action: 'console.key.revoke', actor: { id: actor } });
    const { rows } = await c.db.pool.query(
      `SELECT actor FROM ${tableNames(c.db.table).derived('_ledger')} WHERE principal_id = $1 AND kind LIKE 'admin:%'`,
      [key.id],
    );
    expect(rows.map((r) => r.actor)).toContain(actor);
  });

  it('a human whose token lacks the admin scope is refused, and no session is made', async () => {
    const { client, back } = await throughProvider(MALLORY);
    const res = await client.get(local(back));
    expect(res.status).toBe(401);
    expect(res.body).toContain('mallory@example.com is not a console admin');
    expect(client.cookie).not.toContain('akc_session');
    // The round trip's cookie is spent, and the sign-in form's is fresh.
    expect(res.headers.getSetCookie().find((l) => l.startsWith('akc_oidc='))).toMatch(/Max-Age=0/);
    expect(client.cookie).not.toContain('akc_oidc');
    expect(client.cookie).toContain('akc_pre=');
    expect((await client.get('/')).status).toBe(303);
  });

  it('a callback whose state is not the one this browser started with is refused', async () => {
    const { client, back } = await throughProvider(ALICE);
    back.searchParams.set('state', 'forged-state-value-0123456789');
    const res = await client.get(local(back));
    expect(res.status).toBe(401);
    expect(res.body).toContain('did not check out');
    expect(client.cookie).not.toContain('akc_session');
  });

  it('a callback in another browser (no round-trip cookie) is refused: no login CSRF', async () => {
    const { back } = await throughProvider(ALICE);
    const victim = new Client(c.url);
    const res = await victim.get(local(back));
    expect(res.status).toBe(400);
    expect(victim.cookie).not.toContain('akc_session');
    // Nor with a round-trip cookie made up, or cut short.
    for (const forged of ['garbage', `${flowOf(await throughProvider(ALICE))}x`, 'a.b.c']) {
      victim.setCookie('akc_oidc', forged);
      expect((await victim.get(local(back))).status).toBe(400);
      expect(victim.cookie).not.toContain('akc_session');
    }
  });

  it('a code used once cannot sign in again, even with its round-trip cookie put back', async () => {
    const { client, back, flow } = await throughProvider(ALICE);
    expect((await client.get(local(back))).status).toBe(200);
    const replay = new Client(c.url);
    replay.setCookie('akc_oidc', flow);
    const res = await replay.get(local(back));
    expect(res.status).toBe(401);
    expect(replay.cookie).not.toContain('akc_session');
  });

  it.each([
    ['another nonce', { nonce: 'not-the-nonce-we-sent' }],
    ['another audience', { aud: 'some-other-client' }],
    ['another issuer', { iss: 'http://127.0.0.1:1/evil' }],
  ])('an ID token with %s, signed by the provider itself, is refused', async (_what, change) => {
    const { client, back } = await throughProvider(ALICE);
    idp.tamperNextIdToken((claims) => ({ ...claims, ...change }));
    const res = await client.get(local(back));
    expect(res.status).toBe(401);
    expect(res.body).toContain('did not check out');
    expect(client.cookie).not.toContain('akc_session');
  });

  it.each([
    ['the admin scope as a prefix in a string', { roles: 'viewer console:admin-not' }],
    ['the admin scope as a prefix in scp', { roles: undefined, scp: 'console:admin-not console:admins' }],
    ['an object naming the admin scope', { roles: [{ 'console:admin': true }, ['console:admin']] }],
    ['the admin scope with a tab', { roles: 'viewer\tconsole:admin' }],
    ['an expired token', { exp: Math.floor(Date.now() / 1000) - 3600 }],
    ['another authorized party', { azp: 'other' }],
  ] as Array<[string, Record<string, unknown>]>)(
    'an ID token with %s, signed by the provider itself, signs no admin in',
    async (_what, change) => {
      const { client, back } = await throughProvider(ALICE);
      idp.tamperNextIdToken((claims) => ({
        ...claims,
        ...change,
        // Two audiences, the authorized party not this console.
        aud: 'azp' in change ? [idp.clientId, 'other'] : claims.aud,
      }));
      const res = await client.get(local(back));
      expect(res.status).toBe(401);
      expect(client.cookie).not.toContain('akc_session');
    },
  );

  it('the admin scope in a space-separated string claim signs in (the control for the refusals above)', async () => {
    const { client, back } = await throughProvider(MALLORY);
    idp.tamperNextIdToken((claims) => ({ ...claims, roles: 'viewer console:admin' }));
    expect((await client.get(local(back))).status).toBe(200);
    expect(client.cookie).toContain('akc_session');
  });

  it('an email claim or a provider error carrying markup cannot redirect the continue page elsewhere', async () => {
    const evil = '"><meta http-equiv="refresh" content="0;url=https://evil.example/">';
    const { client, back } = await throughProvider(ALICE);
    idp.tamperNextIdToken((claims) => ({ ...claims, email: `a${evil}@x.example` }));
    const res = await client.get(local(back));
    expect(res.status).toBe(200);
    expect(res.body).not.toContain('https://evil.example/">');
    expect(res.body.match(/<meta http-equiv="refresh"[^>]*>/g)).toEqual([
      '<meta http-equiv="refresh" content="0;url=/agentkey/">',
    ]);
    const other = await throughProvider(ALICE);
    const refused = await other.client.get(`/oidc/callback?error=${encodeURIComponent(evil)}`);
    expect(refused.status).toBe(401);
    expect(refused.body).not.toContain('<meta http-equiv="refresh"');
  });

  it("the provider's refusal (error=access_denied) signs no one in", async () => {
    const client = new Client(c.url);
    await client.get('/oidc/login');
    const res = await client.get('/oidc/callback?error=access_denied&state=x');
    expect(res.status).toBe(401);
    expect(res.body).toContain('access_denied');
    expect(client.cookie).not.toContain('akc_session');
  });

  it('a provider whose discovery document names another issuer is not used', async () => {
    // Another address serving the real provider's metadata, so `issuer` there is not this URL.
    const mirror: Server = createServer(async (req, res) => {
      const real = await fetch(`${idp.issuer}${req.url}`);
      res.writeHead(real.status, { 'content-type': 'application/json' }).end(await real.text());
    });
    await new Promise<void>((resolve) => mirror.listen(0, '127.0.0.1', resolve));
    const app = express().use(
      '/agentkey',
      agentKeyConsole({
        agentKey: c.ak,
        pool: c.db.pool,
        oidc: {
          issuer: `http://127.0.0.1:${(mirror.address() as AddressInfo).port}`,
          clientId: idp.clientId,
          clientSecret: idp.clientSecret,
          allowInsecureIssuer: true,
        },
      }),
    );
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const client = new Client(`http://127.0.0.1:${(server.address() as AddressInfo).port}/agentkey`);
      const res = await client.get('/oidc/login');
      expect(res.status).toBe(502);
      expect(res.body).toContain('issuer');
      expect(client.cookie).not.toContain('akc_oidc');
    } finally {
      server.close();
      mirror.close();
    }
  });
});

describe('the oidc option', () => {
  const mount = (oidc: unknown) => () =>
    agentKeyConsole({ agentKey: c.ak, pool: c.db.pool, oidc: oidc as never });
  it.each([
    [{ issuer: 'http://idp.example', clientId: 'a' }, /issuer must be https/],
    [{ issuer: 'not a url', clientId: 'a' }, /issuer must be an absolute URL/],
    [{ issuer: 'https://idp.example' }, /clientId must be/],
    [{ issuer: 'https://idp.example', clientId: 'a', clientSecret: '' }, /clientSecret must be/],
    [{ issuer: 'https://idp.example', clientId: 'a', redirectUri: 'https://app/x' }, /redirectUri must be/],
    [{ issuer: 'https://idp.example', clientId: 'a', adminClaim: 'has space' }, /adminClaim must be/],
    [{ issuer: 'https://idp.example', clientId: 'a', issuerr: 'typo' }, /issuerr is not an option/],
    ['https://idp.example', /oidc must be an object/],
  ])('%j is refused with a clear error', (oidc, message) => {
    expect(mount(oidc)).toThrow(message);
  });

  it('a console without oidc has no OIDC routes', async () => {
    const app = express().use('/agentkey', agentKeyConsole({ agentKey: c.ak, pool: c.db.pool }));
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const client = new Client(`http://127.0.0.1:${(server.address() as AddressInfo).port}/agentkey`);
      expect((await client.get('/signin')).body).not.toContain('/oidc/login');
      expect((await client.get('/oidc/login')).status).toBe(303); // to sign-in, like any page
    } finally {
      server.close();
    }
  });
});
