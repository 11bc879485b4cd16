import { createRemoteJWKSet, customFetch, errors, type JWTVerifyGetKey, type RemoteJWKSet } from 'jose';
import { KeySourceUnavailable } from './outcome.js';

export interface JwksOptions {
  timeoutMs: number;
  cooldownMs: number;
  fetch?: typeof fetch;
}

// One resolver per JWKS URL per process. jose's resolver is the key cache: it holds the keys, the
// refetch cooldown and the merging of concurrent fetches, so every verifier of one issuer in a process
// (a gate per router, the CLI) must share it, or each would refetch on its own. That is the one reason
// for module state here. Options that change the resolver's behaviour are part of the key, and an
// injected fetch gets its own map (weakly held, so a test's fetch goes away with the test).
const shared = new Map<string, RemoteJWKSet>();
const byFetch = new WeakMap<typeof fetch, Map<string, RemoteJWKSet>>();

export function sharedRemoteJwks(url: URL, options: JwksOptions): RemoteJWKSet {
  let map = shared;
  if (options.fetch) {
    map = byFetch.get(options.fetch) ?? new Map();
    byFetch.set(options.fetch, map);
  }
  const key = `${url.href} ${options.timeoutMs} ${options.cooldownMs}`;
  let keys = map.get(key);
  if (!keys) {
    keys = createRemoteJWKSet(url, {
      timeoutDuration: options.timeoutMs,
      cooldownDuration: options.cooldownMs,
      ...(options.fetch ? { [customFetch]: options.fetch } : {}),
    });
    map.set(key, keys);
  }
  return keys;
}

// jose errors from the resolver that are a verdict on the token, not on the JWKS endpoint.
const TOKEN_VERDICTS = new Set([
  'ERR_JWKS_NO_MATCHING_KEY',
  'ERR_JWKS_MULTIPLE_MATCHING_KEYS',
  'ERR_JOSE_NOT_SUPPORTED',
]);

/** The resolver, with every failure to obtain the key set turned into `KeySourceUnavailable` (fail closed). */
export function guardedKeys(keys: RemoteJWKSet): JWTVerifyGetKey {
  return async (header, token) => {
    try {
      return await keys(header, token);
    } catch (error) {
      if (error instanceof errors.JOSEError && TOKEN_VERDICTS.has(error.code)) throw error;
      throw new KeySourceUnavailable(
        `The issuer's signing keys could not be fetched (${whyUnavailable(error)}).`,
        {
          cause: error,
        },
      );
    }
  };
}

function whyUnavailable(error: unknown): string {
  if (error instanceof errors.JWKSTimeout) return 'timed out';
  if (error instanceof errors.JWKSInvalid) return 'the key set is invalid';
  if (error instanceof errors.JOSEError) return 'the JWKS endpoint did not answer 200 with JSON';
  return 'network error';
}
