import type { AccessContext } from '../context.js';
import { grantRow } from './grant-row.js';

/** A permit slip as the proxy reads it: the child key's row, the grant it draws on, its action. */
export interface Slip {
  keyId: number;
  grantId: number;
  agentId: number;
  toolId: string;
  action: string;
  expiresAt: Date;
}

export async function readSlip(ctx: AccessContext, keyId: number): Promise<Slip | null> {
  const { rows } = await ctx.pool.query(`SELECT * FROM ${ctx.names.slips} WHERE key_id = $1`, [keyId]);
  const r = rows[0];
  if (!r) return null;
  return {
    keyId: Number(r.key_id),
    grantId: Number(r.grant_id),
    agentId: Number(r.agent_id),
    toolId: r.tool_id as string,
    action: r.action as string,
    expiresAt: new Date(r.expires_at),
  };
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
