import * as crypto from 'node:crypto';
import { createHash, randomBytes } from 'node:crypto';

/** agentkey 0.2.0 keys: prefix + 48 hex characters (24 random bytes). */
export function newKey(prefix: string): { key: string; hash: string; start: string } {
  const key = `${prefix}${randomBytes(24).toString('hex')}`;
  return { key, hash: hashKey(key), start: key.slice(0, prefix.length + 8) };
}

/**
 * SHA-256 hex of the whole key, as 0.2.0 stores it. Lookups go through the hash index, so no
 * secret is ever compared byte by byte in this process.
 */
export function hashKey(key: string): string {
  return oneShot ? oneShot('sha256', key, 'hex') : createHash('sha256').update(key).digest('hex');
}

// Node ≥ 20.12's one-shot hash skips the Hash object: a few times faster on the request path.
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

/** A hash no key can produce (`x` is not hex): the key_hash of external subjects. */
export function unusableHash(): string {
  return `x${randomBytes(31).toString('hex')}`;
}
