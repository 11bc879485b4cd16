import { createHash, randomBytes } from 'node:crypto';
import type { AccessContext } from '../context.js';
import { type AccessResult, refuse } from '../errors.js';
import { open, type Sealed, seal } from '../secrets/seal.js';

/**
 * A permit slip's token: `akp_` and 32 random bytes in base64url. Only its SHA-256 hash is stored;
 * the proxy finds the slip by that hash (a unique index), so nothing compares the token itself and
 * a guess costs 2^256. It is not a key of the store: every other route refuses it.
 */
export const SLIP_PREFIX = 'akp_';
const SHAPE = /^akp_[A-Za-z0-9_-]{43}$/;

export function newSlipToken(): { token: string; hash: Buffer } {
  const token = `${SLIP_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashOf(token) };
}

/** The stored hash of a well-formed token; null for anything else (never looked up). */
export function slipTokenHash(token: string): Buffer | null {
  return SHAPE.test(token) ? hashOf(token) : null;
}

const hashOf = (token: string) => createHash('sha256').update(token, 'utf8').digest();

/** The child key's secret, sealed for this slip row and token: it opens for no other. */
export function sealChild(ctx: AccessContext, slipId: number, tokenHash: Buffer, childKey: string): Sealed {
  return seal(ctx.ring, { table: ctx.tables.id, slipId, tokenHash }, childKey);
}

export function openChild(
  ctx: AccessContext,
  slipId: number,
  tokenHash: Buffer,
  sealed: Sealed,
): AccessResult<{ key: string }> {
  const opened = open(ctx.ring, { table: ctx.tables.id, slipId, tokenHash }, sealed);
  if (opened.ok) return { ok: true, key: opened.secret };
  return refuse(
    opened.code,
    opened.code === 'secret_key_unknown'
      ? 'this permit slip is sealed with a key id not in AGENTKEY_SECRET_KEYS'
      : 'this permit slip failed authentication (tampered or moved); refusing',
  );
}
