import { auth0Verifier } from '@agentkey/auth0';
import { clerkVerifier } from '@agentkey/clerk';
import { AgentKey, AgentKeyInputError } from '@agentkey/core';
import { agentKeyAuth } from '@agentkey/express';
import { oidcVerifier } from '@agentkey/oidc';
import { describe, expect, it } from 'vitest';

// Each place a first-sight policy is configured refuses an incomplete one when it is built, naming
// the option, so "zero access by default" cannot be lost to a policy that forgot what it grants.
const makers: Array<[string, (firstSeen: never) => unknown]> = [
  [
    'oidcVerifier',
    (firstSeen) => oidcVerifier({ issuer: 'https://idp.example/', audience: 'api', firstSeen }),
  ],
  ['auth0Verifier', (firstSeen) => auth0Verifier({ domain: 'tenant.auth0.com', audience: 'api', firstSeen })],
  ['clerkVerifier', (firstSeen) => clerkVerifier({ machineSecretKey: 'ak_m', firstSeen })],
  [
    'agentKeyAuth',
    (firstSeen) =>
      agentKeyAuth({
        agentKey: new AgentKey({ pool: { query: () => Promise.reject(new Error('no')) } }),
        firstSeen,
      }),
  ],
];

describe.each(makers)('%s firstSeen', (_name, make) => {
  it.each([
    [{}, 'firstSeen.scopes'],
    [{ budgetCents: 500 }, 'firstSeen.scopes'],
    [{ scopes: ['read'] }, 'firstSeen.budgetCents'],
    [{ scopes: null, budgetCents: 1, expiresIn: '0h' }, 'firstSeen.expiresIn'],
  ])('refuses %j naming %s', (policy, field) => {
    let error: unknown;
    try {
      make(policy as never);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(AgentKeyInputError);
    expect((error as AgentKeyInputError).field).toBe(field);
    expect((error as Error).message).toContain(field);
  });

  it('accepts explicit nulls for unlimited', () => {
    expect(() => make({ scopes: null, budgetCents: null } as never)).not.toThrow();
  });
});
