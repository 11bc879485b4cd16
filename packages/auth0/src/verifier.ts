import type { Verifier } from '@agentkey/core';
import { checkAlgorithms, oidcVerifier } from '@agentkey/oidc';
import { auth0Identity } from './identity.js';
import { AUTH0_ALGORITHMS, type Auth0VerifierOptions, checkDomain, checkIssuer } from './options.js';

/**
 * Verifies Auth0 M2M access tokens of one tenant: a preset over `oidcVerifier` with Auth0's issuer,
 * JWKS location, both token dialects (`typ: JWT` and RFC 9068 `at+jwt`) and its claim shapes.
 * Subjects are `{subjectNamespace}|{clientId}`, the namespace defaulting to the domain.
 */
export function auth0Verifier(options: Auth0VerifierOptions): Verifier {
  const {
    domain: rawDomain,
    algorithms,
    jwksUri,
    issuer: issuerOverride,
    id,
    subjectNamespace,
    ...rest
  } = options;
  const domain = checkDomain(rawDomain);
  const { issuer, insecure } = checkIssuer(issuerOverride, domain);
  return oidcVerifier({
    ...rest,
    issuer,
    allowInsecureIssuer: insecure,
    // No discovery: Auth0 always serves the key set here.
    jwksUri: jwksUri ?? new URL('.well-known/jwks.json', issuer).href,
    algorithms: checkAlgorithms(algorithms ?? ['RS256'], AUTH0_ALGORITHMS),
    typ: ['JWT', 'at+jwt'],
    mapIdentity: auth0Identity,
    // oidcVerifier checks it (non-empty, no `|`) and names `subjectNamespace` when it refuses it.
    subjectNamespace: subjectNamespace === undefined ? domain : subjectNamespace,
    id: id ?? `auth0:${domain}`,
  });
}
