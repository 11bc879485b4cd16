import { type OidcVerifierOptions, oidcVerifier } from '@agentkey/oidc';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { deadOrigin, type IdpStandIn, startIdp } from './support/idp-server.js';
import { makeKey, mint, type TestKey } from './support/keys.js';

// Where keys come from: only the issuer's JWKS, fetched with a cooldown, failing closed.
const AUD = 'https://api.example.test';

describe('oidcVerifier keys', () => {
  let idp: IdpStandIn;
  let attacker: IdpStandIn;
  let k1: TestKey;
  let k2: TestKey;
  const iss = () => idp.origin;
  const options = (extra: Partial<OidcVerifierOptions> = {}): OidcVerifierOptions => ({
    issuer: idp.origin,
    audience: AUD,
    jwksUri: idp.jwksUri,
    allowInsecureIssuer: true,
    ...extra,
  });

  beforeAll(async () => {
    [idp, attacker] = await Promise.all([startIdp(), startIdp()]);
    [k1, k2] = await Promise.all([makeKey('k1'), makeKey('k2')]);
  });
  afterEach(() => {
    vi.useRealTimers();
    idp.keys = [k1.jwk];
    idp.mode = 'normal';
  });
  afterAll(async () => {
    await idp.close();
    await attacker.close();
  });

  it('refuses an unknown kid, then picks up the rotated key once the cooldown has passed', async () => {
    vi.useFakeTimers({ toFake: ['Date'] }); // jose times its cooldown with Date.now()
    idp.keys = [k1.jwk];
    // A cooldown of its own, so this URL's shared resolver is not some other test's.
    const verifier = oidcVerifier(options({ jwksCooldownMs: 10_000 }));
    expect((await verifier.verify(await mint(k1, { iss: iss(), aud: AUD }))).ok).toBe(true);
    const fetched = idp.count('/jwks');

    const rotated = await mint(k2, { iss: iss(), aud: AUD });
    idp.keys = [k1.jwk, k2.jwk];
    // Within the cooldown an unknown kid does not refetch: a flood of bogus kids costs the IdP nothing.
    expect(await verifier.verify(rotated)).toEqual({
      ok: false,
      error: {
        code: 'invalid_token',
        description: "No key in the issuer's JWKS matches the token.",
        reason: 'unknown',
      },
    });
    expect(idp.count('/jwks')).toBe(fetched);

    vi.setSystemTime(Date.now() + 10_001);
    expect((await verifier.verify(rotated)).ok).toBe(true);
    expect(idp.count('/jwks')).toBe(fetched + 1);
  });

  it('never fetches a jku or x5u key set, and refuses tokens that name one', async () => {
    const evil = await makeKey('evil');
    attacker.keys = [evil.jwk];
    const verifier = oidcVerifier(options());
    for (const header of [
      { jku: attacker.jwksUri },
      { x5u: `${attacker.origin}/cert.pem` },
      { jwk: evil.jwk },
    ]) {
      const forged = await mint(evil, { iss: iss(), aud: AUD }, { header });
      const result = await verifier.verify(forged);
      expect(result).toEqual({
        ok: false,
        error: {
          code: 'invalid_token',
          description: `The token carries a "${Object.keys(header)[0]}" header; keys come only from the issuer's JWKS.`,
        },
      });
    }
    // Even a genuine key's signature does not make a key-pointing header acceptable.
    const genuine = await mint(k1, { iss: iss(), aud: AUD }, { header: { jku: attacker.jwksUri } });
    expect((await verifier.verify(genuine)).ok).toBe(false);
    expect(attacker.requests).toEqual([]);
  });

  it('tries each candidate key when a kid-less token meets a JWKS with several', async () => {
    idp.keys = [k1.jwk, k2.jwk];
    const verifier = oidcVerifier(options({ jwksCooldownMs: 1 })); // own resolver: fresh key set
    const token = await mint(k2, { iss: iss(), aud: AUD }, { header: { kid: undefined } });
    expect((await verifier.verify(token)).ok).toBe(true);
    const forged = await mint(await makeKey('x'), { iss: iss(), aud: AUD }, { header: { kid: undefined } });
    expect(await verifier.verify(forged)).toEqual({
      ok: false,
      error: { code: 'invalid_token', description: 'The token signature is invalid.' },
    });
  });

  it('shares one key set per JWKS URL across verifiers', async () => {
    const first = oidcVerifier(options({ jwksCooldownMs: 2 }));
    const second = oidcVerifier(options({ jwksCooldownMs: 2, id: 'second' }));
    const before = idp.count('/jwks');
    const token = await mint(k1, { iss: iss(), aud: AUD });
    expect((await first.verify(token)).ok).toBe(true);
    expect((await second.verify(token)).ok).toBe(true);
    expect(idp.count('/jwks')).toBe(before + 1);
  });

  it('answers unavailable when the JWKS server refuses connections', async () => {
    const origin = await deadOrigin();
    const verifier = oidcVerifier({
      issuer: origin,
      audience: AUD,
      jwksUri: `${origin}/jwks`,
      allowInsecureIssuer: true,
    });
    const result = await verifier.verify(await mint(k1, { iss: origin, aud: AUD }));
    expect(result).toMatchObject({
      ok: false,
      error: {
        code: 'unavailable',
        description: "The issuer's signing keys could not be fetched (network error).",
        retryAfterSec: 5,
      },
    });
  });

  it('answers unavailable when the JWKS server does not answer in time', async () => {
    idp.mode = 'hang';
    const verifier = oidcVerifier(options({ httpTimeoutMs: 100, jwksCooldownMs: 3 }));
    const result = await verifier.verify(await mint(k1, { iss: iss(), aud: AUD }));
    expect(result).toMatchObject({
      ok: false,
      error: {
        code: 'unavailable',
        description: "The issuer's signing keys could not be fetched (timed out).",
        retryAfterSec: 5,
      },
    });
  });

  it('answers unavailable when the JWKS server answers 500, and recovers when it is back', async () => {
    idp.mode = 'error500';
    const verifier = oidcVerifier(options({ jwksCooldownMs: 4 }));
    const token = await mint(k1, { iss: iss(), aud: AUD });
    expect(await verifier.verify(token)).toMatchObject({
      ok: false,
      error: { code: 'unavailable', description: expect.stringMatching(/did not answer 200/) },
    });
    idp.mode = 'normal';
    expect((await verifier.verify(token)).ok).toBe(true);
  });

  it('never puts the token in a refusal', async () => {
    const token = await mint(k2, { iss: iss(), aud: 'https://other.example.test' });
    const result = await oidcVerifier(options()).verify(token);
    expect(result.ok).toBe(false);
    const text = JSON.stringify(result);
    for (const part of token.split('.')) expect(text).not.toContain(part);
  });
});
