import type { Lookup } from '../context.js';
import { isIdent, isPlausibleKey } from '../input/values.js';
import type { Credential } from '../types.js';
import { hashKey } from './secret.js';

/** A native key's row, by its hash; null when the string cannot be a key (nothing is looked up). */
export function keyLookup(rawKey: unknown): Lookup | null {
  return isPlausibleKey(rawKey) ? { by: 'key_hash', value: hashKey(rawKey) } : null;
}

/** An external subject's row; null when the string cannot be a subject. */
export function subjectLookup(subject: unknown): Lookup | null {
  return isIdent(subject) ? { by: 'external_subject', value: subject } : null;
}

/** The row a credential names: a key (bare or `{ key }`) or `{ subject }`. */
export function lookupOf(credential: Credential): Lookup | null {
  if (typeof credential === 'string') return keyLookup(credential);
  if (credential && 'key' in credential) return keyLookup(credential.key);
  if (credential && 'subject' in credential) return subjectLookup(credential.subject);
  return null;
}
