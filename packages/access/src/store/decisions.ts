import type { Actor, Caller } from '../caller.js';
import type { AccessContext } from '../context.js';
import { type AccessResult, refuse } from '../errors.js';
import { checkCents, checkMethods, checkRate, checkText, checkTtl, toMicros } from '../input.js';
import { auditInsert, auditParams } from './audit.js';
import { type GrantInfo, grantInfo, grantRow } from './grant-row.js';
import { readGrant } from './requests.js';
import { readTool } from './tools.js';

/** The scope an approver's credential must carry, literally: an unrestricted key is not enough. */
export const ADMIN_SCOPE = 'access:admin';

/**
 * Who decides. Through the API, `caller` is the approver's credential: it must carry `access:admin`
 * and may never be the requester (same row, same subject, or the same budget pool). The CLI, which
 * holds the database itself, passes only the actor.
 */
export interface Approver {
  actor: Actor;
  caller?: Caller;
}

export interface Narrowing {
  /** The grant ends this long after approval (and never later than the agent asked). */
  expiresIn?: string | number;
  /** Cents the grant may spend in all (never more than the agent asked). */
  budgetCents?: number;
  /** Methods the grant allows, among the tool's. */
  methods?: string[];
  /** Calls per window on this grant (vends and proxied calls). */
  rateLimit?: { requests: number; windowSec?: number };
  note?: string;
}

const min = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));

async function decidable(ctx: AccessContext, requestId: unknown, approver: Approver) {
  const request = await readGrant(ctx, requestId);
  if (!request)
    return refuse('unknown_request', `no request ${JSON.stringify(String(requestId).slice(0, 20))}`);
  const c = approver.caller;
  if (c) {
    if (c.scopes === null || !c.scopes.includes(ADMIN_SCOPE)) {
      return refuse('not_admin', `deciding requests needs the ${ADMIN_SCOPE} scope`);
    }
    const { rows } = await ctx.pool.query(
      `SELECT COALESCE(pool_parent_id, id) AS root, external_subject FROM ${ctx.tables.keys} WHERE id = $1`,
      [c.id],
    );
    const root = rows[0] ? Number(rows[0].root) : c.id;
    if (
      c.id === request.agentId ||
      root === request.agentRoot ||
      (c.subject !== null && c.subject === request.agent)
    ) {
      return refuse('self_approval', 'an agent can never decide its own request');
    }
  }
  if (request.status !== 'pending')
    return refuse('not_pending', `request ${request.id} is ${request.status}`);
  return { ok: true as const, request };
}

/** Approves a pending request, narrowed as the approver likes; audited in the same statement. */
export async function approve(
  ctx: AccessContext,
  requestId: unknown,
  approver: Approver,
  narrowing: Narrowing = {},
): Promise<AccessResult<{ grant: GrantInfo }>> {
  const n = (narrowing ?? {}) as Record<string, unknown>;
  const ttl = checkTtl(n.expiresIn, 'expiresIn');
  if (!ttl.ok) return refuse('bad_request', ttl.message);
  const budget = checkCents(n.budgetCents, 'budgetCents');
  if (!budget.ok) return refuse('bad_request', budget.message);
  const methods = n.methods === undefined ? null : checkMethods(n.methods);
  if (methods && !methods.ok) return refuse('bad_request', methods.message);
  const rate = checkRate(n.rateLimit);
  if (!rate.ok) return refuse('bad_request', rate.message);
  const note = n.note === undefined ? null : checkText(n.note, 'note');
  if (note && !note.ok) return refuse('bad_request', note.message);

  const found = await decidable(ctx, requestId, approver);
  if (!found.ok) return found;
  const { request } = found;
  const tool = await readTool(ctx, request.toolId);
  if (!tool) return refuse('unknown_tool', `no tool ${request.toolId}`);
  const allowed = methods?.ok ? methods.value : tool.methods;
  if (!allowed.every((m) => tool.methods.includes(m))) {
    return refuse('bad_request', `methods: ${request.toolId} allows only ${tool.methods.join(', ')}`);
  }
  const now = ctx.now();
  const ttlSec = min(request.asked.ttlSec, ttl.value);
  const budgetCents = min(request.asked.budgetCents, budget.value);
  const expiresAt = ttlSec === null ? null : new Date(now.getTime() + ttlSec * 1000);
  const { rows } = await ctx.pool.query(
    `WITH saved AS (
       UPDATE ${ctx.names.grants} SET status = 'granted', methods = $2, expires_at = $3, budget_micros = $4,
         rate_requests = $5, rate_window_sec = $6, decided_by = $7, decided_at = $8, note = $9
       WHERE id = $1 AND status = 'pending' RETURNING *),
     logged AS (${auditInsert(ctx, 10, 'saved')})
     SELECT * FROM saved`,
    [
      request.id,
      allowed,
      expiresAt,
      budgetCents === null ? null : toMicros(budgetCents),
      rate.value?.requests ?? null,
      rate.value?.windowSec ?? null,
      approver.actor.id,
      now,
      note?.ok ? note.value : null,
      ...auditParams(ctx, {
        actor: approver.actor,
        action: 'request.approved',
        toolId: request.toolId,
        agentId: request.agentId,
        target: `request:${request.id}`,
        detail: { methods: allowed, expiresAt, budgetCents, rateLimit: rate.value },
      }),
    ],
  );
  if (!rows[0]) return refuse('not_pending', `request ${request.id} was decided meanwhile`);
  return { ok: true, grant: grantInfo(grantRow(rows[0])) };
}

/** Denies a pending request; audited in the same statement. */
export async function deny(
  ctx: AccessContext,
  requestId: unknown,
  approver: Approver,
  note?: string,
): Promise<AccessResult<{ request: GrantInfo }>> {
  const checked = note === undefined || note === null ? null : checkText(note, 'note');
  if (checked && !checked.ok) return refuse('bad_request', checked.message);
  const found = await decidable(ctx, requestId, approver);
  if (!found.ok) return found;
  const { request } = found;
  const { rows } = await ctx.pool.query(
    `WITH saved AS (
       UPDATE ${ctx.names.grants} SET status = 'denied', decided_by = $2, decided_at = $3, note = $4
       WHERE id = $1 AND status = 'pending' RETURNING *),
     logged AS (${auditInsert(ctx, 5, 'saved')})
     SELECT * FROM saved`,
    [
      request.id,
      approver.actor.id,
      ctx.now(),
      checked?.ok ? checked.value : null,
      ...auditParams(ctx, {
        actor: approver.actor,
        action: 'request.denied',
        toolId: request.toolId,
        agentId: request.agentId,
        target: `request:${request.id}`,
      }),
    ],
  );
  if (!rows[0]) return refuse('not_pending', `request ${request.id} was decided meanwhile`);
  return { ok: true, request: grantInfo(grantRow(rows[0])) };
}

/**
 * Revokes a grant at once: the next vend or proxied call on it is refused (every call reads the
 * grant's row). Permit slips minted on it are refused with it. Audited in the same statement.
 */
export async function revokeGrant(
  ctx: AccessContext,
  grantId: unknown,
  approver: Approver,
): Promise<AccessResult<{ grant: GrantInfo }>> {
  const grant = await readGrant(ctx, grantId);
  if (!grant) return refuse('unknown_request', `no grant ${JSON.stringify(String(grantId).slice(0, 20))}`);
  const c = approver.caller;
  if (c && (c.scopes === null || !c.scopes.includes(ADMIN_SCOPE))) {
    return refuse('not_admin', `revoking grants needs the ${ADMIN_SCOPE} scope`);
  }
  const { rows } = await ctx.pool.query(
    `WITH saved AS (
       UPDATE ${ctx.names.grants} SET status = 'revoked', decided_by = $2, decided_at = $3
       WHERE id = $1 AND status = 'granted' RETURNING *),
     logged AS (${auditInsert(ctx, 4, 'saved')})
     SELECT * FROM saved`,
    [
      grant.id,
      approver.actor.id,
      ctx.now(),
      ...auditParams(ctx, {
        actor: approver.actor,
        action: 'grant.revoked',
        toolId: grant.toolId,
        agentId: grant.agentId,
        target: `grant:${grant.id}`,
      }),
    ],
  );
  if (!rows[0]) return refuse('not_pending', `grant ${grant.id} is ${grant.status}, not granted`);
  return { ok: true, grant: grantInfo(grantRow(rows[0])) };
}
