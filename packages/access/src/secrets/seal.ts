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

/**
 * A permit slip's row: its child key's secret is sealed bound to the deployment, the slip (the child
 * key's id) and the hash of the slip's token, so it opens for no other slip and no other token.
 */
export interface SlipIdentity {
  table: string;
  slipId: number;
  tokenHash: Buffer;
}

export type OpenResult =
  | { ok: true; secret: string }
  | { ok: false; code: 'secret_key_unknown' | 'secret_tampered' };

const IV_BYTES = 12;
const TAG_BYTES = 16;

function aad(id: SecretIdentity | SlipIdentity, kid: string): Buffer {
  // JSON: no field can run into the next one, whatever characters it holds. The first field keeps a
  // tool's secret and a slip's child key apart, whatever their ids.
  const fields =
    'slipId' in id
      ? ['agentkey-access-slip-v1', id.table, id.slipId, id.tokenHash.toString('hex'), kid]
      : ['agentkey-access-secret-v1', id.table, id.toolId, id.version, kid];
  return Buffer.from(JSON.stringify(fields));
}

export function seal(ring: KeyRing, id: SecretIdentity | SlipIdentity, secret: string): Sealed {
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
export function open(ring: KeyRing, id: SecretIdentity | SlipIdentity, sealed: Sealed): OpenResult {
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
