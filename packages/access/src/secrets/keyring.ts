import { AccessConfigError } from '../errors.js';

export interface SecretKey {
  kid: string;
  key: Buffer;
}

/** The keys that seal and open upstream secrets: the first seals, every one opens. */
export interface KeyRing {
  readonly primary: SecretKey;
  find(kid: string): SecretKey | undefined;
  readonly kids: readonly string[];
}

const KID = /^[A-Za-z0-9_-]{1,32}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Reads `kid1:base64key,kid2:base64key` (AGENTKEY_SECRET_KEYS): each key 32 bytes (AES-256), each kid
 * unique. Throws naming the entry, never echoing key material.
 */
export function parseKeyRing(text: string | undefined, option = 'AGENTKEY_SECRET_KEYS'): KeyRing {
  if (typeof text !== 'string' || text.trim() === '') {
    throw new AccessConfigError(`${option} is not set: give kid:base64key[,kid:base64key…]`, option);
  }
  const keys: SecretKey[] = [];
  for (const [i, entry] of text.split(',').entries()) {
    const at = entry.indexOf(':');
    const kid = entry.slice(0, at).trim();
    const material = entry.slice(at + 1).trim();
    if (at < 0 || !KID.test(kid)) {
      throw new AccessConfigError(
        `${option}: entry ${i + 1} must be kid:base64key with a kid of 1-32 letters, digits, _ or -`,
        option,
      );
    }
    const key = BASE64.test(material) ? Buffer.from(material, 'base64') : Buffer.alloc(0);
    if (key.length !== 32) {
      throw new AccessConfigError(
        `${option}: key ${kid} must be 32 bytes in base64 (got ${key.length})`,
        option,
      );
    }
    if (keys.some((k) => k.kid === kid))
      throw new AccessConfigError(`${option}: duplicate kid ${kid}`, option);
    keys.push({ kid, key });
  }
  const byKid = new Map(keys.map((k) => [k.kid, k]));
  return { primary: keys[0]!, find: (kid) => byKid.get(kid), kids: keys.map((k) => k.kid) };
}
