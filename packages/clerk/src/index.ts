export { clerkVerifier } from './clerk-verifier.js';
export type { ClerkM2MClient, ClerkVerifierOptions, ScopeMap } from './options.js';
