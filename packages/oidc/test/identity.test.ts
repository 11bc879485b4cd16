import type { Verifier, VerifyResult } from '@agentkey/core';
import { type OidcVerifierOptions, oidcVerifier } from '@agentkey/oidc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IdpStandIn, startIdp } from './support/idp-server.js';
import { makeKey, mint, type TestKey } from './support/keys.js';

// What a verified token says about its caller: subject, scopes, account, delegation.
const AUD = 'https://api.example.test';

describe('oidcVerifier identity', () => {
  let idp: IdpStandIn;
  let key: TestKey;
  const make = (extra: Partial<OidcVerifierOptions> = {}): Verifier =>
    oidcVerifier({
      issuer: idp.origin,
      audience: AUD,
      jwksUri: idp.jwksUri,
      allowInsecureIssuer: true,
      ...extra,
    });
  const verifyWith = async (
    claims: Record<string, unknown>,
    verifier = make(),
    header = {},
  ): Promise<VerifyResult> =>
    verifier.verify(await mint(key, { iss: idp.origin, aud: AUD }, { claims, header }));
  const scopesOf = async (claims: Record<string, unknown>, verifier?: Verifier) => {
    const result = await verifyWith(claims, verifier);
    if (!result.ok) throw new Error(result.error.description);
    return result.identity.scopes;
  };

  beforeAll(async () => {
    idp = await startIdp();
    key = await makeKey('i1', 'ES256');
    idp.keys = [key.jwk];
  });
  afterAll(() => idp.close());

  it('reads scopes from scope (space-separated) and scp (string or list), null when absent', async () => {
    expect(await scopesOf({ scope: 'read  write' })).toEqual(['read', 'write']);
    expect(await scopesOf({ scope: undefined, scp: ['a', 'b'] })).toEqual(['a', 'b']);
    expect(await scopesOf({ scope: undefined, scp: 'a b' })).toEqual(['a', 'b']);
    expect(await scopesOf({ scope: 'a', scp: ['b', 'a'] })).toEqual(['a', 'b']);
    expect(await scopesOf({ scope: undefined })).toBeNull();
    // An empty grant is "nothing", not "no limit".
    expect(await scopesOf({ scope: '' })).toEqual([]);
  });

  it('refuses a scope claim of the wrong type rather than reading it as no limit', async () => {
    expect(await verifyWith({ scope: 42 })).toEqual({
      ok: false,
      error: {
        code: 'invalid_token',
        description: 'The token\'s "scope" claim is neither a string nor a list of strings.',
      },
    });
    expect((await verifyWith({ scope: undefined, scp: ['a', 1] })).ok).toBe(false);
  });

  it('honours scopeClaim and subjectClaim', async () => {
    const custom = make({ scopeClaim: 'permissions', subjectClaim: 'client_id' });
    const result = await verifyWith({ permissions: ['x:read'], client_id: 'svc-9' }, custom);
    expect(result).toMatchObject({
      ok: true,
      identity: { subject: `${idp.origin}|svc-9`, scopes: ['x:read'] },
    });
    expect(await verifyWith({ permissions: ['x:read'] }, custom)).toEqual({
      ok: false,
      error: { code: 'invalid_token', description: 'The token lacks the "client_id" claim.' },
    });
  });

  it('maps accountClaim and delegatedByClaim, and keeps every claim', async () => {
    const verifier = make({ accountClaim: 'org_id', delegatedByClaim: 'act_sub' });
    const result = await verifyWith(
      { org_id: 'org_7', act_sub: 'user_3', gty: 'client-credentials' },
      verifier,
    );
    expect(result).toMatchObject({
      ok: true,
      identity: {
        accountId: 'org_7',
        delegatedBy: 'user_3',
        claims: { org_id: 'org_7', gty: 'client-credentials' },
      },
    });
    const bare = await verifyWith({}, verifier);
    expect(bare.ok && 'accountId' in bare.identity).toBe(false);
    expect((await verifyWith({ org_id: 7 }, verifier)).ok).toBe(false);
  });

  it('uses mapIdentity and subjectNamespace when given', async () => {
    const verifier = make({
      subjectNamespace: 'corp',
      mapIdentity: (claims) =>
        typeof claims.azp === 'string'
          ? { ok: true, id: claims.azp, scopes: ['fixed'] }
          : { ok: false, description: 'no azp' },
    });
    expect(await verifyWith({ azp: 'app-1' }, verifier)).toMatchObject({
      ok: true,
      identity: { subject: 'corp|app-1', scopes: ['fixed'] },
    });
    expect(await verifyWith({}, verifier)).toEqual({
      ok: false,
      error: { code: 'invalid_token', description: 'no azp' },
    });
  });

  it('accepts any typ with typ: false, and a listed one with a list', async () => {
    expect((await verifyWith({}, make({ typ: false }), { typ: undefined })).ok).toBe(true);
    const listed = make({ typ: ['JWT', 'at+jwt'] });
    expect((await verifyWith({}, listed, { typ: 'JWT' })).ok).toBe(true);
    expect((await verifyWith({}, listed, { typ: 'dpop+jwt' })).ok).toBe(false);
  });

  it('accepts() only compact JWTs of its own issuer, without I/O', async () => {
    const verifier = make();
    const before = idp.requests.length;
    expect(verifier.accepts(await mint(key, { iss: idp.origin, aud: AUD }))).toBe(true);
    expect(verifier.accepts(await mint(key, { iss: `${idp.origin}/`, aud: AUD }))).toBe(false);
    expect(verifier.accepts('ak_0123456789abcdef')).toBe(false);
    expect(verifier.accepts('a.b.c')).toBe(false);
    expect(idp.requests.length).toBe(before);
  });
});
