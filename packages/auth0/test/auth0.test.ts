import { type Auth0VerifierOptions, auth0Verifier } from '@agentkey/auth0';
import { AgentKeyInputError, type Verifier } from '@agentkey/core';
import { exportSPKI, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IdpStandIn, startIdp } from '../../oidc/test/support/idp-server.js';
import { makeKey, mint, nowSec, type TestKey } from '../../oidc/test/support/keys.js';

// oidc-provider cannot emit `…@clients` subjects, so Auth0-shaped tokens are signed here with real
// keys and the tenant's JWKS is served by a local stand-in under a loopback issuer override.
const DOMAIN = 'tenant.eu.auth0.com';
const AUD = 'https://api.example.test';

describe('auth0Verifier', () => {
  let tenant: IdpStandIn;
  let rs: TestKey;
  let ps: TestKey;
  let issuer: string;
  let verifier: Verifier;
  const make = (extra: Partial<Auth0VerifierOptions> = {}) =>
    auth0Verifier({ domain: DOMAIN, audience: AUD, issuer, ...extra });
  // Auth0's default dialect: typ JWT, sub "<client>@clients", azp, gty.
  const m2m = (key: TestKey, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) =>
    mint(
      key,
      { iss: issuer, aud: AUD, sub: 'abc123@clients' },
      { header: { typ: 'JWT', ...header }, claims: { azp: 'abc123', gty: 'client-credentials', ...claims } },
    );

  beforeAll(async () => {
    tenant = await startIdp();
    [rs, ps] = await Promise.all([makeKey('rs', 'RS256'), makeKey('ps', 'PS256')]);
    tenant.keys = [rs.jwk, ps.jwk];
    issuer = `${tenant.origin}/`;
    verifier = make();
  });
  afterAll(() => tenant.close());

  it('accepts the default dialect: subject {domain}|{azp}, gty kept', async () => {
    const result = await verifier.verify(await m2m(rs));
    expect(result).toMatchObject({
      ok: true,
      identity: {
        subject: `${DOMAIN}|abc123`,
        scopes: ['read', 'write'],
        claims: { gty: 'client-credentials', sub: 'abc123@clients', azp: 'abc123' },
      },
    });
    expect(result.ok && result.identity.delegatedBy).toBeUndefined();
    expect(verifier.id).toBe(`auth0:${DOMAIN}`);
    expect(verifier.accepts(await m2m(rs))).toBe(true);
  });

  it('fetches keys from {issuer}.well-known/jwks.json, without discovery; jwksUri overrides it', async () => {
    tenant.requests.length = 0;
    expect((await make({ jwksCooldownMs: 1 }).verify(await m2m(rs))).ok).toBe(true);
    expect(tenant.requests).toEqual(['/.well-known/jwks.json']);
    tenant.requests.length = 0;
    expect((await make({ jwksUri: tenant.jwksUri }).verify(await m2m(rs))).ok).toBe(true);
    expect(tenant.requests).toEqual(['/jwks']);
  });

  it('accepts the RFC 9068 dialect: typ at+jwt with client_id', async () => {
    const token = await mint(
      rs,
      { iss: issuer, aud: AUD, sub: 'xyz789@clients' },
      { claims: { client_id: 'xyz789', scope: 'read' } },
    );
    expect(await make().verify(token)).toMatchObject({
      ok: true,
      identity: { subject: `${DOMAIN}|xyz789`, scopes: ['read'] },
    });
  });

  it('takes the client from sub minus @clients when neither azp nor client_id is present', async () => {
    const token = await m2m(rs, { azp: undefined });
    expect(await make().verify(token)).toMatchObject({
      ok: true,
      identity: { subject: `${DOMAIN}|abc123` },
    });
  });

  it('grants scope ∪ permissions', async () => {
    const token = await m2m(rs, { scope: 'read:a write:b', permissions: ['write:b', 'admin:c'] });
    const result = await make().verify(token);
    expect(result.ok && result.identity.scopes).toEqual(['read:a', 'write:b', 'admin:c']);
    const onlyPermissions = await m2m(rs, { scope: undefined, permissions: ['x'] });
    const second = await make().verify(onlyPermissions);
    expect(second.ok && second.identity.scopes).toEqual(['x']);
  });

  it('refuses tokens whose claims disagree about the client', async () => {
    const v = make();
    expect(await v.verify(await m2m(rs, { client_id: 'other' }))).toEqual({
      ok: false,
      error: {
        code: 'invalid_token',
        description: 'The token names two different clients in "azp" and "client_id".',
      },
    });
    expect(await v.verify(await m2m(rs, { azp: 'other' }))).toEqual({
      ok: false,
      error: {
        code: 'invalid_token',
        description: 'The token\'s "sub" names another client than "azp"/"client_id".',
      },
    });
  });

  it('records the user as delegatedBy when sub is a user, not the client', async () => {
    const token = await m2m(rs, { sub: 'auth0|user-1' });
    expect(await make().verify(token)).toMatchObject({
      ok: true,
      identity: { subject: `${DOMAIN}|abc123`, delegatedBy: 'auth0|user-1' },
    });
  });

  it('refuses PS256 by default and accepts it when enabled', async () => {
    const token = await m2m(ps);
    expect(await make().verify(token)).toEqual({
      ok: false,
      error: {
        code: 'invalid_token',
        description: 'The token is signed with an algorithm this verifier does not allow.',
      },
    });
    const enabled = make({ algorithms: ['RS256', 'PS256'] });
    expect(await enabled.verify(token)).toMatchObject({
      ok: true,
      identity: { subject: `${DOMAIN}|abc123` },
    });
  });

  it('refuses HS256: at construction, and a token signed with the public key as secret', async () => {
    expect(() => make({ algorithms: ['HS256' as 'RS256'] })).toThrow(AgentKeyInputError);
    expect(() => make({ algorithms: ['ES256' as 'RS256'] })).toThrow(/ES256 is not allowed/);
    const forged = await new SignJWT({
      iss: issuer,
      aud: AUD,
      sub: 'abc123@clients',
      azp: 'abc123',
      exp: nowSec() + 60,
    })
      .setProtectedHeader({ alg: 'HS256', kid: rs.kid, typ: 'JWT' })
      .sign(new TextEncoder().encode(await exportSPKI(rs.publicKey)));
    expect(await make().verify(forged)).toEqual({
      ok: false,
      error: {
        code: 'invalid_token',
        description: 'The token is signed with an algorithm this verifier does not allow.',
      },
    });
  });

  it('refuses other typ values and tokens without exp', async () => {
    const v = make();
    expect(await v.verify(await m2m(rs, {}, { typ: 'id_token+jwt' }))).toMatchObject({
      ok: false,
      error: { code: 'invalid_token', description: expect.stringMatching(/"typ" header/) },
    });
    expect(await v.verify(await m2m(rs, { exp: undefined }))).toEqual({
      ok: false,
      error: { code: 'invalid_token', description: 'The token lacks the required "exp" claim.' },
    });
  });

  it('checks domain and issuer override at construction', () => {
    expect(() => auth0Verifier({ domain: 'https://tenant.auth0.com/', audience: AUD })).toThrow(
      /bare host name/,
    );
    expect(() => make({ issuer: 'http://evil.example.test/' })).toThrow(/loopback/);
    const real = auth0Verifier({ domain: DOMAIN, audience: AUD });
    expect(real.id).toBe(`auth0:${DOMAIN}`);
    const token = `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from(
      JSON.stringify({ iss: `https://${DOMAIN}/` }),
    ).toString('base64url')}.sig`;
    expect(real.accepts(token)).toBe(true);
  });
});
