import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt, exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import Provider from 'oidc-provider';

/** The part of oidc-provider's API this stand-in uses (the package ships no types). */
interface ProviderApi {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  use(middleware: (ctx: { path: string; body: unknown }, next: () => Promise<void>) => Promise<void>): void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<{ params: Record<string, unknown> }>;
  interactionFinished(
    req: IncomingMessage,
    res: ServerResponse,
    result: object,
    options: { mergeWithLastSubmission: boolean },
  ): Promise<void>;
  Grant: new (options: {
    accountId: string;
    clientId: string;
  }) => {
    addOIDCScope(scope: string): void;
    save(): Promise<string>;
  };
}

export interface Person {
  sub: string;
  email: string;
  roles: string[];
}

export interface Idp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Who the next login at the provider is (its login step answers itself, as that person). */
  loginAs(person: Person): void;
  /**
   * Rewrites the next ID token the token endpoint answers, re-signed with the provider's own key:
   * a real signature over claims the console must refuse.
   */
  tamperNextIdToken(change: (claims: JWTPayload) => JWTPayload): void;
  /** Follows a browser's way from the authorization URL to the redirect back; returns that URL. */
  authorize(url: string): Promise<URL>;
  close(): Promise<void>;
}

/**
 * A real OpenID provider (oidc-provider) on 127.0.0.1 for the console's authorization code flow.
 * Its login and consent steps finish by themselves as the person `loginAs` named; everything else
 * (PKCE, state, codes used once, signed ID tokens with nonce and audience) is the provider's own.
 */
export async function startIdp(redirectUris: string[], host = '127.0.0.1'): Promise<Idp> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // `localhost` makes the provider another site than the console on 127.0.0.1, as in production.
  const issuer = `http://${host}:${(server.address() as AddressInfo).port}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const people = new Map<string, Person>();
  let next: Person | null = null;
  let tamper: ((claims: JWTPayload) => JWTPayload) | null = null;
  const clientId = 'agentkey-console';
  const clientSecret = 'console-secret-of-at-least-32-bytes!!';
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: redirectUris,
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [{ ...(await exportJWK(privateKey)), kid: 'idp-key', use: 'sig', alg: 'RS256' }] },
    cookies: { keys: ['idp-cookie-key-for-tests-only-0123456789'] },
    claims: { openid: ['sub', 'roles'], email: ['email', 'email_verified'] },
    conformIdTokenClaims: false,
    findAccount: async (_ctx: unknown, sub: string) => {
      const person = people.get(sub);
      if (!person) return undefined;
      return { accountId: sub, claims: async () => ({ sub, email: person.email, roles: person.roles }) };
    },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    features: { devInteractions: { enabled: false } },
    pkce: { required: () => true },
  }) as unknown as ProviderApi;
  provider.use(async (ctx, proceed) => {
    await proceed();
    const body = ctx.body as { id_token?: string } | undefined;
    if (ctx.path === '/token' && tamper && body?.id_token) {
      const change = tamper;
      tamper = null;
      const claims = change(decodeJwt(body.id_token));
      body.id_token = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'idp-key' })
        .sign(privateKey);
    }
  });
  const callback = provider.callback();
  server.on('request', async (req: IncomingMessage, res: ServerResponse) => {
    if (!req.url?.startsWith('/interaction/')) return callback(req, res);
    if (req.method === 'GET') {
      // The provider's own login page: the browser leaves it by a form it submits, so the way
      // back to the console starts on the provider's site, as it does with a real login.
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return res.end(`<!doctype html><title>IdP login</title>
<form method="post" action="${req.url}"><button type="submit" id="idp-login">Log in</button></form>`);
    }
    try {
      const details = await provider.interactionDetails(req, res);
      const person = next;
      if (!person) throw new Error('the stand-in provider was not told who logs in');
      people.set(person.sub, person);
      const grant = new provider.Grant({ accountId: person.sub, clientId: String(details.params.client_id) });
      grant.addOIDCScope(String(details.params.scope));
      const grantId = await grant.save();
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: person.sub }, consent: { grantId } },
        { mergeWithLastSubmission: false },
      );
    } catch (error) {
      res.statusCode = 500;
      res.end(String(error));
    }
  });

  return {
    issuer,
    clientId,
    clientSecret,
    loginAs(person) {
      next = person;
    },
    tamperNextIdToken(change) {
      tamper = change;
    },
    async authorize(start) {
      const jar = new Map<string, string>();
      let url = new URL(start);
      for (let hop = 0; hop < 10; hop++) {
        if (url.origin !== issuer) return url;
        const res = await fetch(url, {
          redirect: 'manual',
          headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') },
        });
        for (const line of res.headers.getSetCookie()) {
          const [pair] = line.split(';');
          const i = pair!.indexOf('=');
          jar.set(pair!.slice(0, i), pair!.slice(i + 1));
        }
        let location = res.headers.get('location');
        if (!location && res.status === 200 && url.pathname.startsWith('/interaction/')) {
          // The login page: submit its form, as the person would.
          const posted = await fetch(url, {
            method: 'POST',
            redirect: 'manual',
            headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') },
          });
          location = posted.headers.get('location');
        }
        if (!location) throw new Error(`the provider answered ${res.status}: ${await res.text()}`);
        url = new URL(location, url);
      }
      throw new Error('too many redirects at the provider');
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
