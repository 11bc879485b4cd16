import type { VerifyResult } from '@agentkey/core';
import type { JWTVerifyGetKey } from 'jose';
import { type DiscoveryOptions, discoverJwksUri } from './discovery.js';
import { guardedKeys, type JwksOptions, sharedRemoteJwks } from './jwks.js';

export type KeyLookup = { ok: true; getKey: JWTVerifyGetKey } | { ok: false; refusal: VerifyResult };
/** Resolves the issuer's key set: at once for a configured jwksUri, else after discovery. */
export type KeySource = () => Promise<KeyLookup>;

export interface KeySourceOptions extends DiscoveryOptions {
  issuer: string;
  jwksUri: URL | null;
  jwks: JwksOptions;
}

export function keySource(options: KeySourceOptions): KeySource {
  if (options.jwksUri) {
    const lookup: KeyLookup = {
      ok: true,
      getKey: guardedKeys(sharedRemoteJwks(options.jwksUri, options.jwks)),
    };
    return async () => lookup;
  }
  // Discovery runs once, lazily, shared by concurrent calls; a failure is forgotten so a later call retries.
  let pending: Promise<KeyLookup> | undefined;
  return () => {
    if (pending) return pending;
    const attempt: Promise<KeyLookup> = discoverJwksUri(options.issuer, options).then((found) => {
      if (found.ok) return { ok: true, getKey: guardedKeys(sharedRemoteJwks(found.jwksUri, options.jwks)) };
      if (pending === attempt) pending = undefined;
      return found;
    });
    pending = attempt;
    return attempt;
  };
}
