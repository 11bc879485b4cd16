import type { Configuration, IDToken } from 'openid-client';

/** Sign-in through an OpenID Connect provider (authorization code flow with PKCE, state and nonce). */
export interface ConsoleOidcOptions {
  /** The issuer identifier, exactly as the provider's discovery document spells it. */
  issuer: string;
  /** The console's client id at the provider: the ID token's audience. */
  clientId: string;
  /** A confidential client's secret (sent with HTTP Basic); without it the console is a public client. */
  clientSecret?: string;
  /**
   * The absolute URL the provider sends the browser back to: `<console>/oidc/callback`, registered
   * at the provider. Default: built from the request (the provider's own list of registered
   * redirect URIs is then what keeps it honest).
   */
  redirectUri?: string;
  /**
   * The ID token claim that must name the admin scope (a space-separated string or an array).
   * Default: any of `scope`, `scp`, `permissions`, `roles`.
   */
  adminClaim?: string;
  /** Scopes to ask for. Default `openid email profile`; `openid` is always included. */
  scopes?: string[];
  /** Allow an `http://` issuer (a local development provider). Default false. */
  allowInsecureIssuer?: boolean;
}

export interface OidcSettings {
  issuer: URL;
  clientId: string;
  clientSecret: string | null;
  redirectUri: string | null;
  adminClaims: string[];
  scope: string;
  insecure: boolean;
}

export const DEFAULT_ADMIN_CLAIMS = ['scope', 'scp', 'permissions', 'roles'];
const TOKEN = /^[\x21-\x7e]{1,256}$/;

function bad(what: string): never {
  throw new TypeError(`agentKeyConsole: oidc.${what}`);
}

function httpUrl(value: unknown, name: string, insecure: boolean): URL {
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    return bad(`${name} must be an absolute URL (got ${JSON.stringify(value)})`);
  }
  if (typeof value !== 'string' || url.hash || url.username || url.password)
    bad(`${name} must be a plain URL, without credentials or a #fragment`);
  if (url.protocol !== 'https:' && !(insecure && url.protocol === 'http:'))
    bad(`${name} must be https:// (http:// only with allowInsecureIssuer: true, for local development)`);
  return url;
}

/** The oidc option checked once, at mount time, with an error that names the field. */
export function checkOidc(options: unknown): OidcSettings | null {
  if (options === undefined || options === null) return null;
  if (typeof options !== 'object' || Array.isArray(options))
    throw new TypeError('agentKeyConsole: oidc must be an object { issuer, clientId, ... }');
  const o = options as ConsoleOidcOptions;
  const known = [
    'issuer',
    'clientId',
    'clientSecret',
    'redirectUri',
    'adminClaim',
    'scopes',
    'allowInsecureIssuer',
  ];
  for (const key of Object.keys(o))
    if (!known.includes(key)) bad(`${key} is not an option (${known.join(', ')})`);
  if (o.allowInsecureIssuer !== undefined && typeof o.allowInsecureIssuer !== 'boolean')
    bad('allowInsecureIssuer must be a boolean');
  const insecure = o.allowInsecureIssuer === true;
  const issuer = httpUrl(o.issuer, 'issuer', insecure);
  if (issuer.search) bad('issuer must not carry a ?query');
  if (typeof o.clientId !== 'string' || !TOKEN.test(o.clientId))
    bad('clientId must be a non-empty string of printable characters');
  if (o.clientSecret !== undefined && (typeof o.clientSecret !== 'string' || o.clientSecret.length === 0))
    bad('clientSecret must be a non-empty string, or left out for a public client');
  let redirectUri: string | null = null;
  if (o.redirectUri !== undefined) {
    const url = httpUrl(o.redirectUri, 'redirectUri', insecure);
    if (url.search) bad('redirectUri must not carry a ?query');
    if (!url.pathname.endsWith('/oidc/callback'))
      bad("redirectUri must be the console's own <mount path>/oidc/callback");
    redirectUri = url.href;
  }
  if (o.adminClaim !== undefined && (typeof o.adminClaim !== 'string' || !TOKEN.test(o.adminClaim)))
    bad('adminClaim must be a claim name (printable, no spaces)');
  const scopes = o.scopes ?? ['openid', 'email', 'profile'];
  if (
    !Array.isArray(scopes) ||
    scopes.some((s) => typeof s !== 'string' || !/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(s))
  )
    bad('scopes must be an array of scope names');
  return {
    issuer,
    clientId: o.clientId,
    clientSecret: o.clientSecret ?? null,
    redirectUri,
    adminClaims: o.adminClaim ? [o.adminClaim] : DEFAULT_ADMIN_CLAIMS,
    scope: [...new Set(['openid', ...scopes])].join(' '),
    insecure,
  };
}

/** Whether the ID token's claims name `scope` in one of `claims` (a space-separated string or an array). */
export function claimsAdmin(token: IDToken, claims: string[], scope: string): boolean {
  return claims.some((name) => {
    const value = (token as Record<string, unknown>)[name];
    const list = typeof value === 'string' ? value.split(' ') : Array.isArray(value) ? value : [];
    return list.includes(scope);
  });
}

/** A signed-in OIDC human: who the audit log names. */
export interface OidcHuman {
  sub: string;
  email: string | null;
}

/** Step one: where to send the browser, and what the callback must find again. */
export interface OidcStart {
  url: string;
  state: string;
  nonce: string;
  verifier: string;
}

/**
 * One provider, discovered on first use (a failed discovery is retried on the next sign-in) and
 * loaded lazily: openid-client is an ES module, and a console without OIDC must not need it.
 */
export class OidcClient {
  private config: Promise<Configuration> | null = null;
  constructor(readonly settings: OidcSettings) {}

  private async lib() {
    return import('openid-client');
  }

  private configuration(): Promise<Configuration> {
    if (!this.config) {
      const s = this.settings;
      this.config = this.lib().then((c) =>
        c.discovery(
          s.issuer,
          s.clientId,
          undefined,
          s.clientSecret === null ? c.None() : c.ClientSecretBasic(s.clientSecret),
          { execute: s.insecure ? [c.allowInsecureRequests] : [], timeout: 10 },
        ),
      );
      this.config.catch(() => {
        this.config = null;
      });
    }
    return this.config;
  }

  async start(redirectUri: string): Promise<OidcStart> {
    const c = await this.lib();
    const config = await this.configuration();
    const state = c.randomState();
    const nonce = c.randomNonce();
    const verifier = c.randomPKCECodeVerifier();
    const url = c.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: this.settings.scope,
      response_type: 'code',
      state,
      nonce,
      code_challenge: await c.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    return { url: url.href, state, nonce, verifier };
  }

  /** Step two: the code exchanged (PKCE), state, nonce, issuer, audience and signature checked. */
  async finish(
    redirectUri: string,
    query: string,
    expected: { state: string; nonce: string; verifier: string },
  ): Promise<IDToken> {
    const c = await this.lib();
    const config = await this.configuration();
    const tokens = await c.authorizationCodeGrant(config, new URL(`${redirectUri}?${query}`), {
      pkceCodeVerifier: expected.verifier,
      expectedState: expected.state,
      expectedNonce: expected.nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    if (!claims) throw new Error('the provider sent no ID token');
    return claims;
  }
}
