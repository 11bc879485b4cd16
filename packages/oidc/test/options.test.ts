import { AgentKeyInputError } from '@agentkey/core';
import { type OidcVerifierOptions, oidcVerifier } from '@agentkey/oidc';
import { describe, expect, it } from 'vitest';

const base: OidcVerifierOptions = {
  issuer: 'https://idp.example.test/',
  audience: 'https://api.example.test',
};

function thrown(options: Partial<OidcVerifierOptions>): AgentKeyInputError {
  try {
    oidcVerifier({ ...base, ...options } as OidcVerifierOptions);
  } catch (error) {
    if (error instanceof AgentKeyInputError) return error;
    throw error;
  }
  throw new Error('expected oidcVerifier to throw');
}

describe('oidcVerifier options', () => {
  it('defaults its id to oidc:<issuer> and carries the firstSeen policy', () => {
    const firstSeen = { scopes: ['read'], budgetCents: 100 };
    const verifier = oidcVerifier({ ...base, firstSeen });
    expect(verifier.id).toBe('oidc:https://idp.example.test/');
    // A frozen copy, checked once: later changes to the caller's object cannot widen it.
    expect(verifier.firstSeen).toEqual(firstSeen);
    expect(Object.isFrozen(verifier.firstSeen)).toBe(true);
    expect(oidcVerifier({ ...base, id: 'corp' }).id).toBe('corp');
    expect(oidcVerifier(base).firstSeen).toBeUndefined();
  });

  it('refuses symmetric and unknown algorithms at construction', () => {
    expect(thrown({ algorithms: ['RS256', 'HS256'] })).toMatchObject({
      field: 'algorithms',
      message: expect.stringMatching(/symmetric algorithm HS256 is not supported/),
    });
    expect(thrown({ algorithms: ['none'] })).toMatchObject({
      field: 'algorithms',
      message: expect.stringMatching(/none is not allowed/),
    });
    expect(thrown({ algorithms: [] }).field).toBe('algorithms');
    expect(() => oidcVerifier({ ...base, algorithms: ['ES256', 'EdDSA', 'PS512'] })).not.toThrow();
  });

  it('caps the clock tolerance at 60 seconds', () => {
    expect(thrown({ clockToleranceSec: 61 })).toMatchObject({ field: 'clockToleranceSec' });
    expect(thrown({ clockToleranceSec: -1 })).toMatchObject({ field: 'clockToleranceSec' });
    expect(() => oidcVerifier({ ...base, clockToleranceSec: 60 })).not.toThrow();
  });

  it('wants https issuers and JWKS unless allowInsecureIssuer is set', () => {
    expect(thrown({ issuer: 'http://127.0.0.1:1/' })).toMatchObject({ field: 'issuer' });
    expect(thrown({ jwksUri: 'http://127.0.0.1:1/jwks' })).toMatchObject({ field: 'jwksUri' });
    expect(thrown({ issuer: 'idp.example.test' })).toMatchObject({ field: 'issuer' });
    expect(thrown({ issuer: 'https://idp.example.test/?tenant=1' })).toMatchObject({ field: 'issuer' });
    expect(() =>
      oidcVerifier({ ...base, issuer: 'http://127.0.0.1:1/', allowInsecureIssuer: true }),
    ).not.toThrow();
  });

  it('checks audience, typ and timings', () => {
    expect(thrown({ audience: '' }).field).toBe('audience');
    expect(thrown({ audience: [] }).field).toBe('audience');
    expect(thrown({ typ: [] }).field).toBe('typ');
    expect(thrown({ httpTimeoutMs: 0 }).field).toBe('httpTimeoutMs');
    expect(thrown({ jwksCooldownMs: -1 }).field).toBe('jwksCooldownMs');
  });

  it("refuses a subject namespace with '|', the issuer's by default", () => {
    expect(thrown({ subjectNamespace: 'partner|eu' })).toMatchObject({
      field: 'subjectNamespace',
      message: expect.stringContaining("without '|'"),
    });
    expect(thrown({ subjectNamespace: '' }).field).toBe('subjectNamespace');
    expect(thrown({ issuer: 'https://idp.example.test/t|x' })).toMatchObject({
      field: 'subjectNamespace',
      message: expect.stringMatching(/issuer contains '\|'.*set subjectNamespace/),
    });
    // Such an issuer still verifies under a namespace of its own.
    expect(() =>
      oidcVerifier({ ...base, issuer: 'https://idp.example.test/t|x', subjectNamespace: 'idp-t-x' }),
    ).not.toThrow();
    expect(() => oidcVerifier({ ...base, subjectNamespace: 'partner-eu' })).not.toThrow();
  });

  it('refuses mapIdentity together with the claim options it replaces', () => {
    const error = thrown({ mapIdentity: () => ({ ok: true, id: 'x', scopes: null }), subjectClaim: 'azp' });
    expect(error).toMatchObject({
      field: 'mapIdentity',
      message: expect.stringMatching(/replaces subjectClaim/),
    });
  });
});
