import { AgentKeyInputError } from '@agentkey/core';

/** Asymmetric JWS algorithms: the only ones a public JWKS can verify. */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;
export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];

/**
 * Checks an allowlist at construction. HS* is refused outright: a shared secret would have to be
 * known to every verifier, and `alg` confusion with a public key is the classic forgery (RFC 8725 §2.1).
 */
export function checkAlgorithms(
  algorithms: readonly string[],
  allowed: readonly string[] = ASYMMETRIC_ALGORITHMS,
  option = 'algorithms',
): string[] {
  if (!Array.isArray(algorithms) || algorithms.length === 0) {
    throw new AgentKeyInputError(`${option} must list at least one algorithm`, option);
  }
  for (const alg of algorithms) {
    if (typeof alg === 'string' && /^HS\d+$/i.test(alg)) {
      throw new AgentKeyInputError(
        `${option}: symmetric algorithm ${alg} is not supported; use an asymmetric one (${allowed.join(', ')})`,
        option,
      );
    }
    if (!allowed.includes(alg)) {
      throw new AgentKeyInputError(
        `${option}: ${String(alg)} is not allowed; choose from ${allowed.join(', ')}`,
        option,
      );
    }
  }
  return [...new Set(algorithms)];
}
