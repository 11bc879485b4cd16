import type { AccessContext } from '../context.js';
import type { Sealed } from '../secrets/seal.js';
import { grantRow } from './grant-row.js';

/** A permit slip as the proxy reads it: the child key's row, the grant it draws on, its action. */
export interface Slip {
  keyId: number;
  grantId: number;
  agentId: number;
  toolId: string;
  action: string;
  expiresAt: Date;
  revokedAt: Date | null;
}

const bytes = (v: unknown) => Buffer.from(v as Uint8Array);

function slipRow(r: Record<string, unknown>): Slip {
  return {
    keyId: Number(r.key_id),
    grantId: Number(r.grant_id),
    agentId: Number(r.agent_id),
    toolId: r.tool_id as string,
    action: r.action as string,
    expiresAt: new Date(r.expires_at as string),
    revokedAt: r.revoked_at === null || r.revoked_at === undefined ? null : new Date(r.revoked_at as string),
  };
}

/** The slip whose child key is `keyId` (the routes refuse such a key presented directly). */
export async function readSlip(ctx: AccessContext, keyId: number): Promise<Slip | null> {
  const { rows } = await ctx.pool.query(`SELECT * FROM ${ctx.names.slips} WHERE key_id = $1`, [keyId]);
  return rows[0] ? slipRow(rows[0]) : null;
}

/** A slip found by its token's hash, with its sealed child key and whether its parent still lives. */
export interface TokenSlip extends Slip {
  sealed: Sealed | null;
  parentLive: boolean;
}

export async function slipByTokenHash(ctx: AccessContext, hash: Buffer): Promise<TokenSlip | null> {
  const { rows } = await ctx.pool.query(
    `SELECT s.*, (k.id IS NOT NULL AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > $2)) AS parent_live
       FROM ${ctx.names.slips} s LEFT JOIN ${ctx.tables.keys} k ON k.id = s.agent_id
      WHERE s.token_hash = $1`,
    [hash, ctx.now()],
  );
  const r = rows[0];
  if (!r) return null;
  const sealed =
    r.child_kid === null
      ? null
      : {
          kid: r.child_kid as string,
          iv: bytes(r.child_iv),
          data: bytes(r.child_data),
          tag: bytes(r.child_tag),
        };
  return { ...slipRow(r), sealed, parentLive: r.parent_live === true };
}

/** The grant a slip draws on, when it is still live: revoking the grant stops its slips at once. */
export async function slipGrant(ctx: AccessContext, slip: Slip) {
  const { rows } = await ctx.pool.query(
    `SELECT * FROM ${ctx.names.grants}
      WHERE id = $1 AND status = 'granted' AND (expires_at IS NULL OR expires_at > $2)`,
    [slip.grantId, ctx.now()],
  );
  return rows[0] ? grantRow(rows[0]) : null;
}
