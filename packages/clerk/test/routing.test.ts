import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clerkVerifier } from '../src/index.js';
import { ClerkStub } from './support/clerk-stub.js';
import { clerkKeys, SESSION_CATEGORY, signM2M } from './support/jwt.js';

let stub: ClerkStub;
let keys: Awaited<ReturnType<typeof clerkKeys>>;
beforeAll(async () => {
  [stub, keys] = await Promise.all([new ClerkStub().start(), clerkKeys()]);
});
afterAll(() => stub.close());

const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('accepts(): cheap routing, no I/O', () => {
  it('takes opaque mt_ tokens', () => {
    const v = clerkVerifier({ machineSecretKey: 'ak_secret', apiUrl: stub.url });
    expect(v.accepts('mt_2abcDEF123')).toBe(true);
    expect(v.accepts('mt_')).toBe(false);
    expect(v.accepts(`mt_${'a'.repeat(9000)}`)).toBe(false);
    expect(stub.requests).toEqual([]);
  });

  it('takes a Clerk M2M JWT (cat cl_…), a Clerk session JWT, and an unsigned-looking JWT with a machine subject', async () => {
    const v = clerkVerifier({ machineSecretKey: 'ak_secret', apiUrl: stub.url });
    expect(v.accepts(await signM2M(keys))).toBe(true);
    expect(v.accepts(await signM2M(keys, { sub: 'user_1' }, { cat: SESSION_CATEGORY }))).toBe(true);
    expect(v.accepts(`${part({ alg: 'RS256' })}.${part({ sub: 'mch_x' })}.sig`)).toBe(true);
    expect(stub.requests).toEqual([]);
  });

  it('declines non-Clerk JWTs, other prefixes and garbage', async () => {
    const v = clerkVerifier({ machineSecretKey: 'ak_secret', apiUrl: stub.url });
    const auth0 = await new SignJWT({ sub: 'abc@clients', iss: 'https://tenant.example/' })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
      .sign(keys.privateKey);
    expect(v.accepts(auth0)).toBe(false);
    expect(v.accepts(`${part({ alg: 'RS256', cat: 'xx_other' })}.${part({ sub: 'svc' })}.sig`)).toBe(false);
    expect(v.accepts('ak_native_key_123')).toBe(false);
    expect(v.accepts('oat_clerk_oauth_token')).toBe(false);
    expect(v.accepts('a.b.c')).toBe(false);
    expect(v.accepts(`${part(['array'])}.${part({ sub: 'mch_x' })}.sig`)).toBe(false);
    expect(v.accepts('')).toBe(false);
    expect(stub.requests).toEqual([]);
  });

  it('verify() refuses what accepts() declines, without I/O', async () => {
    const v = clerkVerifier({ machineSecretKey: 'ak_secret', apiUrl: stub.url });
    expect(await v.verify('ak_native_key_123')).toMatchObject({
      ok: false,
      error: { code: 'invalid_token', reason: 'malformed' },
    });
    expect(stub.requests).toEqual([]);
  });
});
