import { oidcVerifier } from '@agentkey/oidc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IdpStandIn, startIdp } from './support/idp-server.js';
import { makeKey, mint, nowSec, type TestKey } from './support/keys.js';

const AUD = 'https://api.example.test';

describe('oidcVerifier verification cache', () => {
  let idp: IdpStandIn;
  let key: TestKey;
  let issuer: string;
  let clock = new Date('2030-01-01T00:00:00Z');
  const options = () => ({
    issuer,
    audience: AUD,
    jwksUri: idp.jwksUri,
    allowInsecureIssuer: true,
    now: () => clock,
  });

  beforeAll(async () => {
    idp = await startIdp();
    key = await makeKey('k1');
    idp.keys = [key.jwk];
    issuer = `${idp.origin}/`;
  });
  afterAll(() => idp.close());

  it('reuses a verified answer within the TTL, and never past the token expiry', async () => {
    clock = new Date('2030-01-01T00:00:00Z');
    const verifier = oidcVerifier({ ...options(), cacheTtlMs: 60_000 });
    const token = await mint(
      key,
      { iss: issuer, aud: AUD, now: clock },
      { claims: { exp: nowSec(clock) + 20 } },
    );
    const first = await verifier.verify(token);
    expect(first.ok).toBe(true);
    clock = new Date(clock.getTime() + 10_000);
    expect(await verifier.verify(token)).toBe(first); // the very same answer object: served from the cache
    clock = new Date(clock.getTime() + 41_000); // past exp + 30 s tolerance, though within the TTL (60 s)
    expect(await verifier.verify(token)).toMatchObject({
      ok: false,
      error: { code: 'invalid_token', reason: 'expired' },
    });
  });

  it('a TTL of 0 verifies every time; refusals are never cached', async () => {
    clock = new Date('2030-01-01T00:00:00Z');
    const uncached = oidcVerifier({ ...options(), cacheTtlMs: 0 });
    const token = await mint(key, { iss: issuer, aud: AUD, now: clock });
    const a = await uncached.verify(token);
    const b = await uncached.verify(token);
    expect(a).toEqual(b);
    expect(a).not.toBe(b);
    const cached = oidcVerifier(options());
    const wrongAud = await mint(key, { iss: issuer, aud: 'https://other.test', now: clock });
    const r1 = await cached.verify(wrongAud);
    expect(r1.ok).toBe(false);
    expect(await cached.verify(wrongAud)).not.toBe(r1);
  });

  it('refuses a TTL above five minutes at construction', () => {
    expect(() => oidcVerifier({ ...options(), cacheTtlMs: 600_000 })).toThrow(/cacheTtlMs/);
  });
});
