export { ASYMMETRIC_ALGORITHMS, type AsymmetricAlgorithm, checkAlgorithms } from './algorithms.js';
export { MAX_TOKEN_LENGTH } from './compact.js';
export { KEY_REFERENCE_HEADERS } from './header.js';
export {
  type ClaimNames,
  claimMapper,
  DEFAULT_SCOPE_CLAIMS,
  type IdentityMapping,
  type MapIdentity,
  readScopes,
  readString,
  type ScopesRead,
  type StringRead,
} from './identity.js';
export { MAX_CLOCK_TOLERANCE_SEC, type OidcVerifierOptions } from './options.js';
export { oidcVerifier } from './verifier.js';
