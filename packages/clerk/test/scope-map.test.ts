import type { M2MToken } from '@clerk/backend';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { clerkVerifier, type ScopeMap } from '../src/index.js';
import { type ClerkStub, testClock, tokenJson, useClerkStub } from './support/clerk-stub.js';

const TOKEN = 'mt_scoped_token_0123456789';

const currentStub = useClerkStub();
let stub: ClerkStub;
beforeEach(() => {
  stub = currentStub();
});
afterEach(() => vi.restoreAllMocks());

async function verifyWith(scopeMap: ScopeMap | undefined, machineScopes = ['mch_api', 'mch_reports']) {
  const clock = testClock();
  stub.tokens.set(TOKEN, { status: 200, token: tokenJson(clock.ms, { scopes: machineScopes }) });
  return clerkVerifier({ machineSecretKey: 'ak_secret', apiUrl: stub.url, now: clock.now, scopeMap }).verify(
    TOKEN,
  );
}

describe('scopeMap: Clerk machine ids → agentkey scopes', () => {
  it('without a map, identity.scopes is null: Clerk’s scopes are machine ids, not capabilities', async () => {
    const result = await verifyWith(undefined);
    expect(result.ok && result.identity.scopes).toBeNull();
    expect(result.ok && result.identity.claims['machineScopes']).toEqual(['mch_api', 'mch_reports']);
  });

  it('a record grants the union of the entries for the token’s machine ids, deduplicated', async () => {
    const result = await verifyWith({
      mch_api: ['read', 'write'],
      mch_reports: ['read'],
      mch_other: ['admin'],
    });
    expect(result.ok && result.identity.scopes).toEqual(['read', 'write']);
  });

  it('a record that matches none of the token’s machine ids grants no scopes (not "no limit")', async () => {
    const result = await verifyWith({ mch_other: ['admin'] });
    expect(result.ok && result.identity.scopes).toEqual([]);
  });

  it('ignores inherited keys such as "constructor"', async () => {
    const result = await verifyWith({ mch_api: ['read'] }, ['constructor', 'mch_api']);
    expect(result.ok && result.identity.scopes).toEqual(['read']);
  });

  it('a function sees the verified token and decides', async () => {
    const seen: M2MToken[] = [];
    const result = await verifyWith((token) => {
      seen.push(token);
      return token.subject === 'mch_caller' ? ['read', 'read', 'billing:write'] : [];
    });
    expect(result.ok && result.identity.scopes).toEqual(['read', 'billing:write']);
    expect(seen[0]?.scopes).toEqual(['mch_api', 'mch_reports']);
  });

  it('a function may return null: no limit from the token', async () => {
    const result = await verifyWith(() => null);
    expect(result.ok && result.identity.scopes).toBeNull();
  });

  it.each([
    [
      'throws',
      () => {
        throw new Error('boom mt_scoped_token_0123456789');
      },
    ],
    ['returns a malformed scope', () => ['has space']],
  ])('a function that %s → unavailable, logged without the token', async (_, scopeMap) => {
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    const result = await verifyWith(scopeMap as ScopeMap);
    expect(result).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    expect(spy).toHaveBeenCalledTimes(1);
    expect(spy.mock.calls.flat().join(' ')).toContain('scopeMap');
    expect(spy.mock.calls.flat().join(' ')).not.toContain(TOKEN);
  });
});
