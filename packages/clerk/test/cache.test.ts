import { tokenCacheKey, VerificationCache } from '@agentkey/core';
import { beforeEach, describe, expect, it } from 'vitest';
import { clerkVerifier } from '../src/index.js';
import { type ClerkStub, testClock, tokenJson, useClerkStub } from './support/clerk-stub.js';

const TOKEN = 'mt_cached_token_0123456789';

const currentStub = useClerkStub();
let stub: ClerkStub;
beforeEach(() => {
  stub = currentStub();
});

function verifier(clock: ReturnType<typeof testClock>, options: Parameters<typeof clerkVerifier>[0] = {}) {
  return clerkVerifier({ machineSecretKey: 'ak_secret', apiUrl: stub.url, now: clock.now, ...options });
}

describe('verification cache (opaque tokens)', () => {
  it('two verifies within the TTL cost one Clerk call; after the TTL, a second', async () => {
    const clock = testClock();
    stub.tokens.set(TOKEN, { status: 200, token: tokenJson(clock.ms) });
    const v = verifier(clock, { cacheTtlMs: 10_000 });
    expect((await v.verify(TOKEN)).ok).toBe(true);
    clock.advance(9_999);
    expect((await v.verify(TOKEN)).ok).toBe(true);
    expect(stub.verifyCalls).toBe(1);
    clock.advance(1);
    expect((await v.verify(TOKEN)).ok).toBe(true);
    expect(stub.verifyCalls).toBe(2);
  });

  it('the default TTL is 10 s', async () => {
    const clock = testClock();
    stub.tokens.set(TOKEN, { status: 200, token: tokenJson(clock.ms) });
    const v = verifier(clock);
    await v.verify(TOKEN);
    clock.advance(9_999);
    await v.verify(TOKEN);
    expect(stub.verifyCalls).toBe(1);
    clock.advance(1);
    await v.verify(TOKEN);
    expect(stub.verifyCalls).toBe(2);
  });

  it('never serves a token past its own expiration, though the TTL has not passed', async () => {
    const clock = testClock();
    stub.tokens.set(TOKEN, { status: 200, token: tokenJson(clock.ms, { expiration: clock.ms + 2_000 }) });
    const v = verifier(clock, { cacheTtlMs: 30_000 });
    expect((await v.verify(TOKEN)).ok).toBe(true);
    clock.advance(1_999);
    expect((await v.verify(TOKEN)).ok).toBe(true);
    expect(stub.verifyCalls).toBe(1);
    clock.advance(1);
    expect(await v.verify(TOKEN)).toMatchObject({
      ok: false,
      error: { code: 'invalid_token', reason: 'expired' },
    });
    expect(stub.verifyCalls).toBe(2);
  });

  it('cacheTtlMs 0 → every verify asks Clerk', async () => {
    const clock = testClock();
    stub.tokens.set(TOKEN, { status: 200, token: tokenJson(clock.ms) });
    const v = verifier(clock, { cacheTtlMs: 0 });
    for (let i = 0; i < 3; i++) expect((await v.verify(TOKEN)).ok).toBe(true);
    expect(stub.verifyCalls).toBe(3);
  });

  it('concurrent verifies of one token share one request', async () => {
    const clock = testClock();
    stub.tokens.set(TOKEN, { status: 200, token: tokenJson(clock.ms), delayMs: 100 });
    const v = verifier(clock);
    const results = await Promise.all(Array.from({ length: 20 }, () => v.verify(TOKEN)));
    expect(results.every((r) => r.ok && r.identity.subject === 'clerk|mch_caller')).toBe(true);
    expect(stub.verifyCalls).toBe(1);
  });

  it('concurrent verifies share one request even with caching off, but the next verify asks again', async () => {
    const clock = testClock();
    stub.tokens.set(TOKEN, { status: 200, token: tokenJson(clock.ms), delayMs: 100 });
    const v = verifier(clock, { cacheTtlMs: 0 });
    await Promise.all([v.verify(TOKEN), v.verify(TOKEN), v.verify(TOKEN)]);
    expect(stub.verifyCalls).toBe(1);
    await v.verify(TOKEN);
    expect(stub.verifyCalls).toBe(2);
  });

  it('unavailable is never cached', async () => {
    const clock = testClock();
    stub.tokens.set(TOKEN, { status: 503, code: 'service_unavailable' });
    const v = verifier(clock);
    expect(await v.verify(TOKEN)).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    stub.tokens.set(TOKEN, { status: 200, token: tokenJson(clock.ms) });
    expect((await v.verify(TOKEN)).ok).toBe(true);
    expect(stub.verifyCalls).toBe(2);
  });

  it('an unknown token (404) is not cached: a token minted a moment ago may not be visible yet', async () => {
    const clock = testClock();
    const v = verifier(clock);
    expect(await v.verify(TOKEN)).toMatchObject({
      ok: false,
      error: { code: 'invalid_token', reason: 'unknown' },
    });
    stub.tokens.set(TOKEN, { status: 200, token: tokenJson(clock.ms) });
    expect((await v.verify(TOKEN)).ok).toBe(true);
    expect(stub.verifyCalls).toBe(2);
  });

  it('a revoked answer is cached for the TTL: it can never turn valid again', async () => {
    const clock = testClock();
    stub.tokens.set(TOKEN, { status: 200, token: tokenJson(clock.ms, { revoked: true }) });
    const v = verifier(clock);
    for (let i = 0; i < 3; i++) {
      expect(await v.verify(TOKEN)).toMatchObject({
        ok: false,
        error: { code: 'invalid_token', reason: 'revoked' },
      });
    }
    expect(stub.verifyCalls).toBe(1);
  });

  it('a Clerk-side revocation shows once the cached answer ages out', async () => {
    const clock = testClock();
    stub.tokens.set(TOKEN, { status: 200, token: tokenJson(clock.ms) });
    const v = verifier(clock, { cacheTtlMs: 5_000 });
    expect((await v.verify(TOKEN)).ok).toBe(true);
    stub.tokens.set(TOKEN, { status: 200, token: tokenJson(clock.ms, { revoked: true }) });
    expect((await v.verify(TOKEN)).ok).toBe(true);
    clock.advance(5_000);
    expect(await v.verify(TOKEN)).toMatchObject({ ok: false, error: { reason: 'revoked' } });
  });

  it('is bounded: past cacheMaxEntries the oldest answer is dropped', async () => {
    const clock = testClock();
    for (const t of ['mt_a', 'mt_b', 'mt_c']) stub.tokens.set(t, { status: 200, token: tokenJson(clock.ms) });
    const v = verifier(clock, { cacheMaxEntries: 2 });
    await v.verify('mt_a');
    await v.verify('mt_b');
    await v.verify('mt_c');
    expect(stub.verifyCalls).toBe(3);
    await v.verify('mt_c');
    await v.verify('mt_b');
    expect(stub.verifyCalls).toBe(3);
    await v.verify('mt_a');
    expect(stub.verifyCalls).toBe(4);
  });
});

describe('VerificationCache', () => {
  const ok = { ok: true as const, identity: { subject: 's', scopes: null, expiresAt: null, claims: {} } };

  it('keys by SHA-256, never the raw token', () => {
    const key = tokenCacheKey(TOKEN);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(key).not.toContain('mt_');
    expect(tokenCacheKey(TOKEN)).toBe(key);
    expect(tokenCacheKey(`${TOKEN}x`)).not.toBe(key);
  });

  it('serves an entry only before its deadline, and refuses one already past it', () => {
    const cache = new VerificationCache(10);
    cache.set('k', ok, 1_000, 0);
    expect(cache.get('k', 999)).toBe(ok);
    expect(cache.get('k', 1_000)).toBeUndefined();
    expect(cache.size).toBe(0);
    cache.set('late', ok, 1_000, 1_000);
    expect(cache.size).toBe(0);
  });

  it('re-setting a key makes it the newest', () => {
    const cache = new VerificationCache(2);
    cache.set('a', ok, 10, 0);
    cache.set('b', ok, 10, 0);
    cache.set('a', ok, 10, 0);
    cache.set('c', ok, 10, 0);
    expect(cache.get('a', 0)).toBe(ok);
    expect(cache.get('b', 0)).toBeUndefined();
  });
});
