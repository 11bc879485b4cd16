import { createClerkClient } from '@clerk/backend';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { clerkVerifier } from '../src/index.js';
import { type ClerkStub, closedPortUrl, testClock, tokenJson, useClerkStub } from './support/clerk-stub.js';

const MACHINE_SECRET = 'ak_machine_secret_do_not_log_0123456789';
const TOKEN = 'mt_opaque_token_do_not_log_abcdef';

const currentStub = useClerkStub();
let stub: ClerkStub;
beforeEach(() => {
  stub = currentStub();
});
afterEach(() => vi.restoreAllMocks());

function verifier(clock = testClock(), options: Parameters<typeof clerkVerifier>[0] = {}) {
  return clerkVerifier({ machineSecretKey: MACHINE_SECRET, apiUrl: stub.url, now: clock.now, ...options });
}

describe('opaque tokens', () => {
  it('a valid token yields a namespaced machine identity, with no capability scopes from Clerk', async () => {
    const clock = testClock();
    stub.tokens.set(TOKEN, { status: 200, token: tokenJson(clock.ms) });
    const result = await verifier(clock).verify(TOKEN);
    expect(result).toEqual({
      ok: true,
      identity: {
        subject: 'clerk|mch_caller',
        scopes: null,
        expiresAt: new Date(clock.ms + 3_600_000),
        claims: {
          tokenId: 'mt_id_1',
          machineId: 'mch_caller',
          machineScopes: ['mch_api'],
          claims: { team: 'billing' },
          format: 'opaque',
        },
      },
    });
    expect(stub.requests).toEqual([
      {
        method: 'POST',
        path: '/m2m_tokens/verify',
        authorization: `Bearer ${MACHINE_SECRET}`,
        body: { token: TOKEN },
      },
    ]);
  });

  it('uses the namespace and id options', async () => {
    const clock = testClock();
    stub.tokens.set(TOKEN, { status: 200, token: tokenJson(clock.ms, { expiration: null }) });
    const v = verifier(clock, { namespace: 'clerk-prod', id: 'clerk-prod' });
    const result = await v.verify(TOKEN);
    expect(v.id).toBe('clerk-prod');
    expect(result.ok && result.identity.subject).toBe('clerk-prod|mch_caller');
    expect(Object.isFrozen(result.ok && result.identity)).toBe(true);
    expect(result.ok && result.identity.expiresAt).toBeNull();
  });

  it('authenticates with secretKey when no machine secret key is given', async () => {
    const clock = testClock();
    stub.tokens.set(TOKEN, { status: 200, token: tokenJson(clock.ms) });
    const result = await clerkVerifier({ secretKey: 'sk_test_abc', apiUrl: stub.url, now: clock.now }).verify(
      TOKEN,
    );
    expect(result.ok).toBe(true);
    expect(stub.requests[0]?.authorization).toBe('Bearer sk_test_abc');
  });

  it('works with an injected Clerk client', async () => {
    const clock = testClock();
    stub.tokens.set(TOKEN, { status: 200, token: tokenJson(clock.ms) });
    const clerkClient = createClerkClient({ machineSecretKey: MACHINE_SECRET, apiUrl: stub.url });
    const result = await clerkVerifier({ clerkClient, now: clock.now }).verify(TOKEN);
    expect(result.ok && result.identity.subject).toBe('clerk|mch_caller');
  });

  it('carries firstSeen through', () => {
    const v = verifier(testClock(), { firstSeen: { scopes: ['read'], budgetCents: 100 } });
    expect(v.firstSeen).toEqual({ scopes: ['read'], budgetCents: 100 });
    expect('firstSeen' in verifier()).toBe(false);
  });
});

describe('refusals Clerk states in a 200 answer', () => {
  it('revoked: true → invalid_token revoked', async () => {
    const clock = testClock();
    stub.tokens.set(TOKEN, {
      status: 200,
      token: tokenJson(clock.ms, { revoked: true, revocation_reason: 'leaked' }),
    });
    const result = await verifier(clock).verify(TOKEN);
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid_token', reason: 'revoked' } });
  });

  it('expired: true → invalid_token expired, even with a future expiration', async () => {
    const clock = testClock();
    stub.tokens.set(TOKEN, { status: 200, token: tokenJson(clock.ms, { expired: true }) });
    const result = await verifier(clock).verify(TOKEN);
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid_token', reason: 'expired' } });
  });

  it('an expiration in the past (by our clock) → invalid_token expired, though Clerk says expired: false', async () => {
    const clock = testClock();
    stub.tokens.set(TOKEN, { status: 200, token: tokenJson(clock.ms, { expiration: clock.ms - 1 }) });
    const result = await verifier(clock).verify(TOKEN);
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid_token', reason: 'expired' } });
  });

  it('an expiration exactly now is already expired', async () => {
    const clock = testClock();
    stub.tokens.set(TOKEN, { status: 200, token: tokenJson(clock.ms, { expiration: clock.ms }) });
    const result = await verifier(clock).verify(TOKEN);
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid_token', reason: 'expired' } });
  });

  it('an answer the SDK cannot read as a token (JSON with a charset) → unavailable, not a pass', async () => {
    const clock = testClock();
    const contentType = 'application/json; charset=utf-8';
    stub.tokens.set(TOKEN, { status: 200, token: tokenJson(clock.ms), contentType });
    const result = await verifier(clock).verify(TOKEN);
    expect(result).toMatchObject({ ok: false, error: { code: 'unavailable' } });
  });

  it('a subject that is not a machine (mch_…) → invalid_token malformed', async () => {
    const clock = testClock();
    stub.tokens.set(TOKEN, { status: 200, token: tokenJson(clock.ms, { subject: 'user_123' }) });
    const result = await verifier(clock).verify(TOKEN);
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid_token', reason: 'malformed' } });
  });
});

describe('Clerk errors', () => {
  it('404 (unknown token) → invalid_token unknown', async () => {
    const result = await verifier().verify(TOKEN);
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid_token', reason: 'unknown' } });
    expect(stub.verifyCalls).toBe(1);
  });

  it.each([400, 422])('%i → invalid_token malformed', async (status) => {
    stub.tokens.set(TOKEN, { status, code: 'form_param_invalid' });
    const result = await verifier().verify(TOKEN);
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid_token', reason: 'malformed' } });
  });

  it.each([401, 403])(
    '%i (our own key refused) → unavailable, logged loudly without secret or token',
    async (status) => {
      const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
      stub.tokens.set(TOKEN, { status, code: 'authentication_invalid' });
      const result = await verifier().verify(TOKEN);
      expect(result).toMatchObject({ ok: false, error: { code: 'unavailable', retryAfterSec: 30 } });
      expect(spy).toHaveBeenCalledTimes(1);
      const logged = spy.mock.calls.flat().map(String).join('\n');
      expect(logged).toContain(`HTTP ${status}`);
      expect(logged).toContain('machineSecretKey');
      expect(logged).not.toContain(MACHINE_SECRET);
      expect(logged).not.toContain(TOKEN);
      expect(result.ok || result.error.description).not.toContain(MACHINE_SECRET);
    },
  );

  it('logs a misconfiguration at most once a minute', async () => {
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    stub.tokens.set(TOKEN, { status: 401, code: 'authentication_invalid' });
    const clock = testClock();
    const v = verifier(clock);
    await v.verify(TOKEN);
    await v.verify(TOKEN);
    expect(spy).toHaveBeenCalledTimes(1);
    clock.advance(60_000);
    await v.verify(TOKEN);
    expect(spy).toHaveBeenCalledTimes(2);
  });

  it('Clerk down (connection refused) → unavailable with Retry-After', async () => {
    const apiUrl = await closedPortUrl();
    const result = await clerkVerifier({ machineSecretKey: MACHINE_SECRET, apiUrl }).verify(TOKEN);
    expect(result).toMatchObject({ ok: false, error: { code: 'unavailable', retryAfterSec: 2 } });
  });

  it('a Clerk slower than timeoutMs → unavailable (timeout), not a hung request', async () => {
    const clock = testClock();
    stub.tokens.set(TOKEN, { status: 200, token: tokenJson(clock.ms), delayMs: 5_000 });
    const result = await verifier(clock, { timeoutMs: 50 }).verify(TOKEN);
    expect(result).toMatchObject({ ok: false, error: { code: 'unavailable', retryAfterSec: 2 } });
    expect(!result.ok && (result.error.cause as Error).name).toBe('TimeoutError');
  });

  it('429 → unavailable, passing on Clerk’s Retry-After', async () => {
    stub.tokens.set(TOKEN, { status: 429, code: 'too_many_requests', headers: { 'retry-after': '7' } });
    const result = await verifier().verify(TOKEN);
    expect(result).toMatchObject({ ok: false, error: { code: 'unavailable', retryAfterSec: 7 } });
  });

  it.each([500, 502, 503])('%i → unavailable', async (status) => {
    stub.tokens.set(TOKEN, { status, code: 'internal_error' });
    const result = await verifier().verify(TOKEN);
    expect(result).toMatchObject({ ok: false, error: { code: 'unavailable', retryAfterSec: 2 } });
  });
});
