import { createServer, type Server } from 'node:http';
import { oidcVerifier } from '@agentkey/oidc';
import { decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { close, listen } from './support/idp-server.js';

// A real, OpenID-certified authorization server in-process, issuing client_credentials JWT access
// tokens over HTTP; the verifier finds its keys through discovery like it would in production.
const API = 'https://api.example.test';

describe('oidcVerifier against oidc-provider', () => {
  let server: Server;
  let issuer: string;
  const requests: string[] = [];

  beforeAll(async () => {
    server = createServer();
    issuer = await listen(server); // listen first: the issuer must carry the real port
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: 'agent-1',
          client_secret: 'secret-1',
          grant_types: ['client_credentials'],
          redirect_uris: [],
          response_types: [],
          token_endpoint_auth_method: 'client_secret_basic',
        },
      ],
      jwks: { keys: [{ ...(await exportJWK(privateKey)), kid: 'provider-key', use: 'sig', alg: 'RS256' }] },
      ttl: { ClientCredentials: 300 },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => API,
          useGrantedResource: () => true,
          getResourceServerInfo: () => ({
            scope: 'read write',
            audience: API,
            accessTokenTTL: 300,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          }),
        },
      },
    });
    const callback = provider.callback();
    server.on('request', (req, res) => {
      requests.push(req.url ?? '');
      callback(req, res);
    });
  });
  afterAll(() => close(server));

  async function clientCredentialsToken(scope: string): Promise<string> {
    const response = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from('agent-1:secret-1').toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: API, scope }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { access_token: string; token_type: string };
    expect(body.token_type).toBe('Bearer');
    return body.access_token;
  }

  it('accepts its token after discovery: namespaced subject, scopes, expiry', async () => {
    const token = await clientCredentialsToken('read');
    expect(decodeProtectedHeader(token).typ).toBe('at+jwt');
    const verifier = oidcVerifier({ issuer, audience: API, allowInsecureIssuer: true });
    expect(verifier.id).toBe(`oidc:${issuer}`);
    expect(verifier.accepts(token)).toBe(true);

    const result = await verifier.verify(token);
    expect(result).toMatchObject({ ok: true });
    if (!result.ok) return;
    expect(result.identity.subject).toBe(`${issuer}|agent-1`);
    expect(result.identity.scopes).toEqual(['read']);
    expect(result.identity.expiresAt).toEqual(new Date((result.identity.claims.exp as number) * 1000));
    expect(result.identity.claims).toMatchObject({ iss: issuer, aud: API, client_id: 'agent-1' });
    expect(requests).toContain('/.well-known/openid-configuration');
    expect(requests).toContain('/jwks'); // the jwks_uri the discovery document named
  });

  it('discovers once per verifier and refuses the same token for another audience', async () => {
    const token = await clientCredentialsToken('read write');
    const verifier = oidcVerifier({ issuer, audience: API, allowInsecureIssuer: true });
    const before = requests.filter((path) => path === '/.well-known/openid-configuration').length;
    const [first, second] = await Promise.all([verifier.verify(token), verifier.verify(token)]);
    expect(first.ok && first.identity.scopes).toEqual(['read', 'write']);
    expect(second.ok).toBe(true);
    expect(requests.filter((path) => path === '/.well-known/openid-configuration').length).toBe(before + 1);

    const other = oidcVerifier({ issuer, audience: 'https://other.example.test', allowInsecureIssuer: true });
    expect(await other.verify(token)).toEqual({
      ok: false,
      error: { code: 'invalid_token', description: 'The token is not meant for this audience.' },
    });
  });
});
