export { auth0Identity } from './identity.js';
export { AUTH0_ALGORITHMS, type Auth0Algorithm, type Auth0VerifierOptions } from './options.js';
export { auth0Verifier } from './verifier.js';
