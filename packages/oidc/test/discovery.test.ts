import { oidcVerifier } from '@agentkey/oidc';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deadOrigin, type IdpStandIn, startIdp } from './support/idp-server.js';
import { makeKey, mint, type TestKey } from './support/keys.js';

const AUD = 'https://api.example.test';
const OPENID = '/.well-known/openid-configuration';
const OAUTH = '/.well-known/oauth-authorization-server';

describe('oidcVerifier discovery', () => {
  let idp: IdpStandIn;
  let key: TestKey;
  const verifier = () => oidcVerifier({ issuer: idp.origin, audience: AUD, allowInsecureIssuer: true });
  const token = () => mint(key, { iss: idp.origin, aud: AUD });

  beforeAll(async () => {
    key = await makeKey('d1');
  });
  beforeEach(async () => {
    idp = await startIdp();
    idp.keys = [key.jwk];
  });
  afterEach(() => idp.close());

  it('finds jwks_uri through openid-configuration, once for many calls', async () => {
    idp.openidConfiguration = { issuer: idp.origin, jwks_uri: idp.jwksUri };
    const v = verifier();
    const results = await Promise.all([
      v.verify(await token()),
      v.verify(await token()),
      v.verify(await token()),
    ]);
    expect(results.map((r) => r.ok)).toEqual([true, true, true]);
    expect(idp.count(OPENID)).toBe(1);
    expect(idp.count(OAUTH)).toBe(0);
  });

  it('falls back to oauth-authorization-server when openid-configuration is absent', async () => {
    idp.oauthServerMetadata = { issuer: idp.origin, jwks_uri: idp.jwksUri };
    expect((await verifier().verify(await token())).ok).toBe(true);
    expect(idp.requests.slice(0, 2)).toEqual([OPENID, OAUTH]);
  });

  it('refuses with unavailable when the discovery document names another issuer', async () => {
    idp.openidConfiguration = { issuer: `${idp.origin}/`, jwks_uri: idp.jwksUri };
    expect(await verifier().verify(await token())).toMatchObject({
      ok: false,
      error: {
        code: 'unavailable',
        description: expect.stringMatching(
          /^OIDC discovery misconfiguration: the discovery document names issuer/,
        ),
        retryAfterSec: 5,
      },
    });
    expect(idp.count('/jwks')).toBe(0);
  });

  it('refuses a discovery document without a usable jwks_uri', async () => {
    idp.openidConfiguration = { issuer: idp.origin, jwks_uri: 'ftp://example.test/keys' };
    expect(await verifier().verify(await token())).toMatchObject({
      ok: false,
      error: { code: 'unavailable', description: expect.stringMatching(/jwks_uri that is not https/) },
    });
  });

  it('does not cache a failed discovery: a later call retries and succeeds', async () => {
    const v = verifier();
    expect(await v.verify(await token())).toMatchObject({
      ok: false,
      error: { code: 'unavailable', description: expect.stringMatching(/found no discovery document/) },
    });
    idp.openidConfiguration = { issuer: idp.origin, jwks_uri: idp.jwksUri };
    expect((await v.verify(await token())).ok).toBe(true);
    expect(idp.count(OPENID)).toBe(2);
  });

  it('answers unavailable when the discovery host refuses connections', async () => {
    const origin = await deadOrigin();
    const v = oidcVerifier({ issuer: origin, audience: AUD, allowInsecureIssuer: true });
    expect(await v.verify(await mint(key, { iss: origin, aud: AUD }))).toMatchObject({
      ok: false,
      error: {
        code: 'unavailable',
        description: expect.stringMatching(/discovery for .* failed \(network error\)/),
      },
    });
  });

  it('answers unavailable when discovery times out', async () => {
    idp.mode = 'hang';
    const v = oidcVerifier({
      issuer: idp.origin,
      audience: AUD,
      allowInsecureIssuer: true,
      httpTimeoutMs: 100,
    });
    expect(await v.verify(await token())).toMatchObject({
      ok: false,
      error: { code: 'unavailable', description: expect.stringMatching(/failed \(timed out\)/) },
    });
  });

  it('does not discover for tokens it can refuse on sight', async () => {
    idp.openidConfiguration = { issuer: idp.origin, jwks_uri: idp.jwksUri };
    const foreign = await mint(key, { iss: 'https://elsewhere.example.test', aud: AUD });
    expect((await verifier().verify(foreign)).ok).toBe(false);
    expect(await verifier().verify('garbage')).toMatchObject({ ok: false, error: { reason: 'malformed' } });
    expect(idp.requests).toEqual([]);
  });

  it('uses an injected fetch for discovery and keys', async () => {
    idp.openidConfiguration = { issuer: idp.origin, jwks_uri: idp.jwksUri };
    const seen: string[] = [];
    const v = oidcVerifier({
      issuer: idp.origin,
      audience: AUD,
      allowInsecureIssuer: true,
      fetch: (input, init) => {
        seen.push(String(input));
        return fetch(input, init);
      },
    });
    expect((await v.verify(await token())).ok).toBe(true);
    expect(seen).toEqual([`${idp.origin}${OPENID}`, idp.jwksUri]);
  });
});
