import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { clerkVerifier } from '../src/index.js';
import { ClerkStub } from './support/clerk-stub.js';
import { clerkKeys, SESSION_CATEGORY, signM2M } from './support/jwt.js';

let stub: ClerkStub;
let keys: Awaited<ReturnType<typeof clerkKeys>>;
let otherKeys: Awaited<ReturnType<typeof clerkKeys>>;
beforeAll(async () => {
  [stub, keys, otherKeys] = await Promise.all([new ClerkStub().start(), clerkKeys(), clerkKeys()]);
});
afterAll(() => stub.close());
beforeEach(() => {
  stub.requests.length = 0;
  stub.jwks = { status: 404, body: { errors: [] } };
});
afterEach(() => vi.restoreAllMocks());

function local(options: Parameters<typeof clerkVerifier>[0] = {}) {
  return clerkVerifier({ machineSecretKey: 'ak_secret', jwtKey: keys.pem, apiUrl: stub.url, ...options });
}

describe('JWT-format M2M tokens, verified locally with jwtKey', () => {
  it('a valid token yields the machine identity without any request to Clerk', async () => {
    const token = await signM2M(keys);
    const result = await local().verify(token);
    expect(result).toMatchObject({
      ok: true,
      identity: {
        subject: 'clerk|mch_caller',
        scopes: null,
        claims: {
          tokenId: 'mt_jwt_id_1',
          machineId: 'mch_caller',
          machineScopes: ['mch_api', 'mch_reports'],
          claims: { team: 'billing' },
          format: 'jwt',
        },
      },
    });
    expect(result.ok && result.identity.expiresAt?.getTime()).toBeGreaterThan(Date.now());
    expect(stub.requests).toEqual([]);
  });

  it('maps JWT scopes through scopeMap like opaque ones', async () => {
    const result = await local({ scopeMap: { mch_reports: ['reports:read'] } }).verify(await signM2M(keys));
    expect(result.ok && result.identity.scopes).toEqual(['reports:read']);
  });

  it('an expired token → invalid_token expired', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await signM2M(keys, { iat: now - 7200, exp: now - 3600 });
    const result = await local().verify(token);
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid_token', reason: 'expired' } });
  });

  it('expiry is also checked against the injected clock', async () => {
    const token = await signM2M(keys);
    const later = () => new Date(Date.now() + 2 * 3600_000);
    const result = await local({ now: later }).verify(token);
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid_token', reason: 'expired' } });
  });

  it('a token signed with another key → invalid_token', async () => {
    const token = await signM2M(otherKeys, {}, { kid: keys.kid });
    const result = await local().verify(token);
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid_token', reason: 'unknown' } });
    expect(stub.requests).toEqual([]);
  });

  it('a tampered payload → invalid_token', async () => {
    const [h, , s] = (await signM2M(keys)).split('.');
    const forged = Buffer.from(JSON.stringify({ sub: 'mch_admin', exp: 9_999_999_999, iat: 1 })).toString(
      'base64url',
    );
    const result = await local().verify(`${h}.${forged}.${s}`);
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid_token' } });
  });

  it('alg none → invalid_token', async () => {
    const [, p] = (await signM2M(keys)).split('.');
    const header = Buffer.from(JSON.stringify({ alg: 'none', cat: 'cl_B7d4PD333AAA' })).toString('base64url');
    const result = await local().verify(`${header}.${p}.AAAA`);
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid_token' } });
  });

  it('a machine subject under another Clerk category (a session token) → invalid_token malformed', async () => {
    const token = await signM2M(keys, {}, { cat: SESSION_CATEGORY });
    const result = await local().verify(token);
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid_token', reason: 'malformed' } });
  });

  it('a Clerk JWT not issued to a machine is refused without being sent to Clerk', async () => {
    const token = await signM2M(keys, { sub: 'user_123' }, { cat: SESSION_CATEGORY });
    const result = await local().verify(token);
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid_token', reason: 'malformed' } });
    expect(stub.requests).toEqual([]);
  });

  it('a non-Clerk JWT → invalid_token malformed, no I/O', async () => {
    const token = await new SignJWT({ sub: 'client@clients', iss: 'https://tenant.example/' })
      .setProtectedHeader({ alg: 'RS256' })
      .sign(keys.privateKey);
    const result = await local().verify(token);
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid_token', reason: 'malformed' } });
    expect(stub.requests).toEqual([]);
  });
});

describe('JWT-format M2M tokens without jwtKey', () => {
  it('fetches Clerk’s keys from {apiUrl}/v1/jwks with secretKey', async () => {
    stub.jwks = { status: 200, body: { keys: [keys.jwk] } };
    const v = clerkVerifier({ secretKey: 'sk_test_jwks_ok', apiUrl: stub.url });
    const result = await v.verify(await signM2M(keys));
    expect(result.ok && result.identity.subject).toBe('clerk|mch_caller');
    expect(stub.requests).toMatchObject([
      { method: 'GET', path: '/v1/jwks', authorization: 'Bearer sk_test_jwks_ok' },
    ]);
  });

  it('a key id missing from the JWKS → invalid_token', async () => {
    stub.jwks = { status: 200, body: { keys: [keys.jwk] } };
    const v = clerkVerifier({ secretKey: 'sk_test_jwks_kid', apiUrl: stub.url });
    const result = await v.verify(await signM2M(otherKeys, {}, { kid: 'ins_unknown' }));
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid_token', reason: 'unknown' } });
  });

  it('JWKS unavailable (after the SDK’s own retries) → unavailable', async () => {
    stub.jwks = { status: 500, body: { errors: [{ code: 'internal_error', message: 'down' }] } };
    const v = clerkVerifier({ secretKey: 'sk_test_jwks_down', apiUrl: stub.url, timeoutMs: 20_000 });
    const result = await v.verify(await signM2M(keys));
    expect(result).toMatchObject({ ok: false, error: { code: 'unavailable', retryAfterSec: 2 } });
    expect(!result.ok && (result.error.cause as Error).name).not.toBe('TimeoutError');
  });

  it('with neither jwtKey nor secretKey → unavailable, logged as a misconfiguration', async () => {
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    const token = await signM2M(keys);
    const result = await clerkVerifier({ machineSecretKey: 'ak_machine_only', apiUrl: stub.url }).verify(
      token,
    );
    expect(result).toMatchObject({ ok: false, error: { code: 'unavailable', retryAfterSec: 30 } });
    expect(spy).toHaveBeenCalledTimes(1);
    const logged = spy.mock.calls.flat().join(' ');
    expect(logged).toContain('jwtKey');
    expect(logged).not.toContain('ak_machine_only');
    expect(logged).not.toContain(token);
    expect(stub.requests).toEqual([]);
  });
});
