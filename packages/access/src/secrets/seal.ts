import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { KeyRing } from './keyring.js';

/** One sealed secret as stored: which key, a fresh 96-bit IV, the ciphertext and its GCM tag. */
export interface Sealed {
  kid: string;
  iv: Buffer;
  data: Buffer;
  tag: Buffer;
}

/** The row a secret belongs to: bound as additional authenticated data, so it opens nowhere else. */
export interface SecretIdentity {
  /** The deployment (keys table) the row lives in. */
  table: string;
  toolId: string;
  version: number;
}

export type OpenResult =
  | { ok: true; secret: string }
  | { ok: false; code: 'secret_key_unknown' | 'secret_tampered' };

const IV_BYTES = 12;
const TAG_BYTES = 16;

function aad(id: SecretIdentity, kid: string): Buffer {
  // JSON: no field can run into the next one, whatever characters it holds.
  return Buffer.from(JSON.stringify(['agentkey-access-secret-v1', id.table, id.toolId, id.version, kid]));
}

export function seal(ring: KeyRing, id: SecretIdentity, secret: string): Sealed {
  const { kid, key } = ring.primary;
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad(id, kid));
  const data = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return { kid, iv, data, tag: cipher.getAuthTag() };
}

/**
 * Opens `sealed` for the row `id`. A key id the ring lacks, or anything that fails authentication
 * (a flipped bit, a record moved to another row or version, a kid swapped for another) is a refusal
 * with a stable code: never plaintext garbage, never an exception carrying key material.
 */
export function open(ring: KeyRing, id: SecretIdentity, sealed: Sealed): OpenResult {
  const entry = ring.find(sealed.kid);
  if (!entry) return { ok: false, code: 'secret_key_unknown' };
  if (sealed.iv.length !== IV_BYTES || sealed.tag.length !== TAG_BYTES)
    return { ok: false, code: 'secret_tampered' };
  try {
    const decipher = createDecipheriv('aes-256-gcm', entry.key, sealed.iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad(id, sealed.kid));
    decipher.setAuthTag(sealed.tag);
    const secret = Buffer.concat([decipher.update(sealed.data), decipher.final()]).toString('utf8');
    return { ok: true, secret };
  } catch {
    return { ok: false, code: 'secret_tampered' };
  }
}
