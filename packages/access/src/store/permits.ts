import type { AgentKey } from '@agentkey/core';
import { agentActor, type Caller } from '../caller.js';
import type { AccessContext } from '../context.js';
import { type AccessResult, refuse } from '../errors.js';
import { checkCents, checkPermitAction, checkTtl } from '../input.js';
import { appendAudit, auditInsert, auditParams } from './audit.js';
import { liveGrant } from './requests.js';
import { newSlipToken, sealChild } from './slip-token.js';
import { readSlip } from './slips.js';
import { readTool } from './tools.js';

export interface PermitOptions {
  /** How long the slip lives: `10s` … `15m`. Default `60s`. */
  ttl?: string | number;
  /** Cents the slip may spend, drawn from its parent's pool. Unset: what the pool allows. */
  budgetCents?: number;
}

export interface Permit {
  /**
   * The slip's token (`akp_…`), shown once: accepted only by the proxy, for one action. It is not a
   * key: the child key it stands for never leaves the server (sealed in the slip's row).
   */
  token: string;
  /** The slip's id (its child key's row): what `DELETE /permits/:id` takes. */
  id: number;
  action: string;
  expiresAt: string;
}

const MAX_SLIP_SEC = 15 * 60;

/**
 * Mints a permit slip: a child key of the caller on the caller's budget pool, scoped to one action
 * of a tool the caller holds a live grant for, living seconds. The caller gets an opaque token, not
 * the key: the token's hash and the key sealed under the ring are stored, and only the proxy turns
 * the token back into the key, so no other route (of the access routes or the app's) accepts it.
 */
export async function mintPermit(
  ctx: AccessContext,
  ak: Pick<AgentKey, 'create' | 'revoke'>,
  caller: Caller,
  action: unknown,
  options: PermitOptions = {},
): Promise<AccessResult<{ permit: Permit }>> {
  const named = checkPermitAction(action);
  if (!named.ok) return refuse('bad_request', named.message);
  const ttl = checkTtl(options?.ttl ?? '60s');
  if (!ttl.ok || (ttl.value ?? 0) > MAX_SLIP_SEC) {
    return refuse('bad_request', 'ttl must be a duration from 1s to 15m, such as 10s');
  }
  const budget = checkCents(options?.budgetCents, 'budgetCents');
  if (!budget.ok) return refuse('bad_request', budget.message);
  const { toolId, action: name } = named.value;
  const tool = await readTool(ctx, toolId);
  if (!tool) return refuse('unknown_tool', `no tool ${toolId}`);
  if (!tool.actions[name]) return refuse('bad_request', `tool ${toolId} has no action ${name}`);
  if (await readSlip(ctx, caller.id)) return refuse('permit_only_proxy', 'a permit slip cannot mint slips');
  const grant = await liveGrant(ctx, caller.id, toolId);
  if (!grant) return refuse('no_grant', `you hold no grant for ${toolId}: request it first`);

  const now = ctx.now();
  const ends = [now.getTime() + ttl.value! * 1000, caller.expiresAt?.getTime(), grant.expiresAt?.getTime()];
  const notAfter = new Date(Math.min(...ends.filter((t): t is number => t !== undefined)));
  const child = await ak.create({
    accountId: caller.accountId,
    scopes: [],
    budgetCents: budget.value,
    expiresIn: `${Math.ceil(ttl.value! / 60)}m`,
    notAfter,
    name: `permit ${toolId}:${name}`,
    poolParentId: caller.id,
  });
  const { token, hash } = newSlipToken();
  const sealed = sealChild(ctx, child.id, hash, child.key);
  try {
    await ctx.pool.query(
      `WITH saved AS (
         INSERT INTO ${ctx.names.slips} (key_id, grant_id, agent_id, tool_id, action, expires_at, created_at,
           token_hash, child_kid, child_iv, child_data, child_tag)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING key_id),
       logged AS (${auditInsert(ctx, 13, 'saved')})
       SELECT key_id FROM saved`,
      [
        child.id,
        grant.id,
        caller.id,
        toolId,
        name,
        child.expiresAt ?? notAfter,
        now,
        hash,
        sealed.kid,
        sealed.iv,
        sealed.data,
        sealed.tag,
        ...auditParams(ctx, {
          actor: agentActor(caller),
          action: 'permit.minted',
          toolId,
          agentId: caller.id,
          target: `key:${child.id}`,
          detail: { action: name, expiresAt: child.expiresAt, budgetCents: budget.value },
        }),
      ],
    );
  } catch (error) {
    // No slip row: the child key must not outlive it (nobody holds it, but leave nothing live).
    await ak.revoke(child.id, null, { actor: `access:${caller.id}` }).catch(() => {});
    throw error;
  }
  return {
    ok: true,
    permit: {
      token,
      id: child.id,
      action: `${toolId}:${name}`,
      expiresAt: child.expiresAt ?? notAfter.toISOString(),
    },
  };
}

/** Revokes a slip the caller minted (or the system, with no caller); audited. */
export async function revokePermit(
  ctx: AccessContext,
  ak: Pick<AgentKey, 'revoke'>,
  caller: Caller,
  keyId: unknown,
): Promise<AccessResult<{ revoked: boolean }>> {
  const id = Number(keyId);
  // key_id is an INTEGER column: an id past its range names no slip.
  const slip = Number.isSafeInteger(id) && id > 0 && id <= 2_147_483_647 ? await readSlip(ctx, id) : null;
  if (!slip || slip.agentId !== caller.id) return refuse('unknown_request', 'no such permit slip of yours');
  // The slip row first: the proxy refuses its token from this statement on, and the sealed child
  // key is wiped (nothing needs it any more).
  const { rowCount } = await ctx.pool.query(
    `UPDATE ${ctx.names.slips}
        SET revoked_at = $2, child_kid = NULL, child_iv = NULL, child_data = NULL, child_tag = NULL
      WHERE key_id = $1 AND revoked_at IS NULL`,
    [id, ctx.now()],
  );
  const keyRevoked = await ak.revoke(id, null, { actor: `access:${caller.id}` });
  const revoked = (rowCount ?? 0) > 0 || keyRevoked;
  if (revoked) {
    await appendAudit(ctx, {
      actor: agentActor(caller),
      action: 'permit.revoked',
      toolId: slip.toolId,
      agentId: caller.id,
      target: `key:${id}`,
    });
  }
  return { ok: true, revoked };
}
