import type { Verifier } from '@agentkey/core';
import { oidcVerifier } from '@agentkey/oidc';
import { exportSPKI, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IdpStandIn, startIdp } from './support/idp-server.js';
import { makeKey, mint, nowSec, type TestKey, unsigned } from './support/keys.js';

// RFC 8725 checks, one refusal per test, each with the outcome that proves which check fired.
const AUD = 'https://api.example.test';
const NOW = new Date('2030-01-01T00:00:00Z');

describe('oidcVerifier token checks', () => {
  let idp: IdpStandIn;
  let key: TestKey;
  let issuer: string;
  let verifier: Verifier;
  const base = () => ({ iss: issuer, aud: AUD, now: NOW });

  beforeAll(async () => {
    idp = await startIdp();
    key = await makeKey('k1');
    idp.keys = [key.jwk];
    issuer = `${idp.origin}/`;
    verifier = oidcVerifier({
      issuer,
      audience: AUD,
      jwksUri: idp.jwksUri,
      allowInsecureIssuer: true,
      now: () => NOW,
    });
  });
  afterAll(() => idp.close());

  const refused = (description: string | RegExp, reason?: string) => ({
    ok: false,
    error: {
      code: 'invalid_token',
      description: typeof description === 'string' ? description : expect.stringMatching(description),
      ...(reason ? { reason } : {}),
    },
  });

  it('accepts a well-formed token (the baseline every refusal below differs from)', async () => {
    const result = await verifier.verify(await mint(key, base()));
    expect(result).toMatchObject({
      ok: true,
      identity: { subject: `${issuer}|client-1`, scopes: ['read', 'write'] },
    });
    expect(result.ok && result.identity.expiresAt).toEqual(new Date((nowSec(NOW) + 300) * 1000));
  });

  it('refuses alg none', async () => {
    const token = unsigned(
      { alg: 'none', typ: 'at+jwt' },
      { iss: issuer, aud: AUD, sub: 'x', exp: nowSec(NOW) + 60 },
    );
    expect(await verifier.verify(token)).toEqual(refused(/algorithm this verifier does not allow/));
  });

  it('refuses HS256 signed with the RSA public key as the secret (key confusion)', async () => {
    const pem = await exportSPKI(key.publicKey);
    const token = await new SignJWT({ iss: issuer, aud: AUD, sub: 'x', exp: nowSec(NOW) + 60 })
      .setProtectedHeader({ alg: 'HS256', kid: key.kid, typ: 'at+jwt' })
      .sign(new TextEncoder().encode(pem));
    expect(await verifier.verify(token)).toEqual(refused(/algorithm this verifier does not allow/));
  });

  it('refuses a token signed by another key under a known kid', async () => {
    const impostor = await makeKey('k1');
    expect(await verifier.verify(await mint(impostor, base()))).toEqual(
      refused('The token signature is invalid.'),
    );
  });

  it('refuses an expired token, beyond the clock tolerance', async () => {
    const token = await mint(key, base(), { claims: { exp: nowSec(NOW) - 31 } });
    expect(await verifier.verify(token)).toEqual(refused('The token has expired.', 'expired'));
  });

  it('allows exp within the 30 s default tolerance', async () => {
    const token = await mint(key, base(), { claims: { exp: nowSec(NOW) - 29 } });
    expect((await verifier.verify(token)).ok).toBe(true);
  });

  it('refuses nbf in the future', async () => {
    const token = await mint(key, base(), { claims: { nbf: nowSec(NOW) + 120 } });
    expect(await verifier.verify(token)).toEqual(refused('The token is not valid yet.'));
  });

  it('refuses a token without exp', async () => {
    const token = await mint(key, base(), { claims: { exp: undefined } });
    expect(await verifier.verify(token)).toEqual(refused('The token lacks the required "exp" claim.'));
  });

  it('refuses a wrong issuer, including the same URL without its trailing slash', async () => {
    for (const iss of ['https://evil.example.test/', issuer.slice(0, -1)]) {
      const token = await mint(key, { ...base(), iss });
      expect(await verifier.verify(token)).toEqual(refused('The token was issued by another issuer.'));
    }
  });

  it('refuses a wrong audience, and accepts ours inside an audience list', async () => {
    const wrong = await mint(key, { ...base(), aud: 'https://other.example.test' });
    expect(await verifier.verify(wrong)).toEqual(refused('The token is not meant for this audience.'));
    const listed = await mint(key, base(), { claims: { aud: ['https://other.example.test', AUD] } });
    expect((await verifier.verify(listed)).ok).toBe(true);
  });

  it('refuses a token without typ, or with typ JWT, when at+jwt is required', async () => {
    for (const typ of [undefined, 'JWT']) {
      const token = await mint(key, base(), { header: { typ } });
      expect(await verifier.verify(token)).toEqual(
        refused(/"typ" header is missing or not one of: application\/at\+jwt/),
      );
    }
    const long = await mint(key, base(), { header: { typ: 'application/at+jwt' } });
    expect((await verifier.verify(long)).ok).toBe(true);
  });

  it('refuses a token without the subject claim', async () => {
    const token = await mint(key, base(), { claims: { sub: undefined } });
    expect(await verifier.verify(token)).toEqual(refused('The token lacks the "sub" claim.'));
  });

  it('refuses a token over 8 KB before parsing it, without fetching keys', async () => {
    const before = idp.requests.length;
    const token = await mint(key, base(), { claims: { pad: 'x'.repeat(9 * 1024) } });
    expect(token.length).toBeGreaterThan(8192);
    expect(await verifier.verify(token)).toEqual(refused(/longer than 8192/, 'malformed'));
    expect(verifier.accepts(token)).toBe(false);
    // Not even a JWT at all, so any parse would fail differently: the size check comes first.
    expect(await verifier.verify('%'.repeat(9000))).toEqual(refused(/longer than 8192/, 'malformed'));
    expect(idp.requests.length).toBe(before);
  });

  it('refuses garbage as malformed', async () => {
    for (const garbage of [
      '',
      'abc',
      'a.b',
      'a.b.c.d',
      'not base64!.x.y',
      'YWJj.ZGVm.Z2hp',
      `${'e30'}.${'W10'}.sig`,
    ]) {
      expect(await verifier.verify(garbage)).toEqual(
        refused(/not a compact JWT|not a JSON object/, 'malformed'),
      );
    }
  });
});

describe('two issuers', () => {
  let a: IdpStandIn;
  let b: IdpStandIn;
  let keyA: TestKey;
  let keyB: TestKey;
  let verifierA: Verifier;
  let verifierB: Verifier;

  beforeAll(async () => {
    [a, b] = await Promise.all([startIdp(), startIdp()]);
    [keyA, keyB] = await Promise.all([makeKey('a1'), makeKey('b1')]);
    a.keys = [keyA.jwk];
    b.keys = [keyB.jwk];
    const options = { audience: AUD, allowInsecureIssuer: true };
    verifierA = oidcVerifier({ ...options, issuer: a.origin, jwksUri: a.jwksUri });
    verifierB = oidcVerifier({ ...options, issuer: b.origin, jwksUri: b.jwksUri });
  });
  afterAll(async () => {
    await a.close();
    await b.close();
  });

  it("refuses issuer A's valid token at issuer B's verifier: accepts() is false and verify() invalid", async () => {
    const token = await mint(keyA, { iss: a.origin, aud: AUD });
    expect(verifierA.accepts(token)).toBe(true);
    expect((await verifierA.verify(token)).ok).toBe(true);
    expect(verifierB.accepts(token)).toBe(false);
    expect(await verifierB.verify(token)).toEqual({
      ok: false,
      error: { code: 'invalid_token', description: 'The token was issued by another issuer.' },
    });
    expect(b.count('/jwks')).toBe(0);
  });

  it('keeps the same sub from two issuers apart as two subjects', async () => {
    const fromA = await verifierA.verify(await mint(keyA, { iss: a.origin, aud: AUD, sub: 'shared' }));
    const fromB = await verifierB.verify(await mint(keyB, { iss: b.origin, aud: AUD, sub: 'shared' }));
    if (!fromA.ok || !fromB.ok) throw new Error('both tokens should verify');
    expect(fromA.identity.subject).toBe(`${a.origin}|shared`);
    expect(fromB.identity.subject).toBe(`${b.origin}|shared`);
    expect(fromA.identity.subject).not.toBe(fromB.identity.subject);
  });
});
