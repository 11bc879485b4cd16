import { agentActor, agentLabel, type Caller } from '../caller.js';
import type { AccessContext } from '../context.js';
import { type AccessResult, refuse } from '../errors.js';
import { checkCents, checkScopesField, checkText, checkToolId, checkTtl, toMicros } from '../input.js';
import { auditInsert, auditParams } from './audit.js';
import { type GrantInfo, grantInfo, grantRow, statusOf, type ToolAccess } from './grant-row.js';
import { readTool } from './tools.js';

export interface AccessRequestBody {
  reason: string;
  scopes?: string[];
  /** How long the agent wants the grant for: `15m`, `2h`, `7d`, or seconds. */
  ttl?: string | number;
  budgetCents?: number;
}

/** `POST /tools/:id/request`: a pending request (zero access until a human approves it). */
export async function requestAccess(
  ctx: AccessContext,
  caller: Caller,
  toolId: unknown,
  body: unknown,
): Promise<AccessResult<{ request: GrantInfo }>> {
  const id = checkToolId(toolId);
  if (!id.ok) return refuse('bad_request', id.message);
  const b = (body ?? {}) as Record<string, unknown>;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return refuse('bad_request', 'the body must be a JSON object');
  }
  const reason = checkText(b.reason, 'reason');
  if (!reason.ok) return refuse('bad_request', reason.message);
  const scopes = checkScopesField(b.scopes);
  if (!scopes.ok) return refuse('bad_request', scopes.message);
  const ttl = checkTtl(b.ttl);
  if (!ttl.ok) return refuse('bad_request', ttl.message);
  const budget = checkCents(b.budgetCents, 'budgetCents');
  if (!budget.ok) return refuse('bad_request', budget.message);
  if (!(await readTool(ctx, id.value))) return refuse('unknown_tool', `no tool ${id.value}`);

  const now = ctx.now();
  // A grant past its expiry no longer counts as open: the agent may ask again.
  await ctx.pool.query(
    `UPDATE ${ctx.names.grants} SET status = 'expired'
      WHERE tool_id = $1 AND agent_id = $2 AND status = 'granted' AND expires_at <= $3`,
    [id.value, caller.id, now],
  );
  const { rows } = await ctx.pool.query(
    `WITH saved AS (
       INSERT INTO ${ctx.names.grants} (tool_id, agent_id, agent_root, agent, status, reason, asked_scopes,
         asked_ttl_sec, asked_budget_micros, created_at)
       SELECT $1, $2, COALESCE(k.pool_parent_id, k.id), $3, 'pending', $4, $5, $6, $7, $8
         FROM ${ctx.tables.keys} k WHERE k.id = $2
       ON CONFLICT (tool_id, agent_id) WHERE status IN ('pending', 'granted') DO NOTHING
       RETURNING *),
     logged AS (${auditInsert(ctx, 9, 'saved')})
     SELECT * FROM saved`,
    [
      id.value,
      caller.id,
      agentLabel(caller),
      reason.value,
      scopes.value,
      ttl.value,
      budget.value === null ? null : toMicros(budget.value),
      now,
      ...auditParams(ctx, {
        actor: agentActor(caller),
        action: 'request.created',
        toolId: id.value,
        agentId: caller.id,
        target: `tool:${id.value}`,
        detail: { ttlSec: ttl.value, budgetCents: budget.value, scopes: scopes.value },
      }),
    ],
  );
  if (rows[0]) return { ok: true, request: grantInfo(grantRow(rows[0])) };
  const open = await openFor(ctx, caller.id, id.value);
  return open?.status === 'granted'
    ? refuse('already_granted', `you already hold a grant for ${id.value} (request ${open.id})`)
    : refuse('already_pending', `your request for ${id.value} is pending (request ${open?.id})`);
}

async function openFor(ctx: AccessContext, agentId: number, toolId: string) {
  const { rows } = await ctx.pool.query(
    `SELECT * FROM ${ctx.names.grants} WHERE agent_id = $1 AND tool_id = $2 AND status IN ('pending', 'granted')`,
    [agentId, toolId],
  );
  return rows[0] ? grantRow(rows[0]) : null;
}

export interface RequestFilter {
  status?: GrantInfo['status'];
  toolId?: string;
  agentId?: number;
}

/** Requests and grants, newest first: what an approver (the console, the CLI) lists. */
export async function listRequests(ctx: AccessContext, f: RequestFilter = {}): Promise<GrantInfo[]> {
  const { rows } = await ctx.pool.query(
    `SELECT * FROM ${ctx.names.grants}
      WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR tool_id = $2) AND ($3::int IS NULL OR agent_id = $3)
      ORDER BY id DESC LIMIT 1000`,
    [f.status ?? null, f.toolId ?? null, f.agentId ?? null],
  );
  return rows.map((r: Record<string, unknown>) => grantInfo(grantRow(r)));
}

export async function readGrant(ctx: AccessContext, id: unknown) {
  if (typeof id !== 'number' && typeof id !== 'string') return null;
  if (!/^[1-9]\d{0,15}$/.test(String(id))) return null;
  const { rows } = await ctx.pool.query(`SELECT * FROM ${ctx.names.grants} WHERE id = $1`, [String(id)]);
  return rows[0] ? grantRow(rows[0]) : null;
}

/** The caller's status per tool: its latest request or grant for each. */
export async function statusesFor(ctx: AccessContext, caller: Caller): Promise<Map<string, ToolAccess>> {
  const { rows } = await ctx.pool.query(
    `SELECT DISTINCT ON (tool_id) * FROM ${ctx.names.grants} WHERE agent_id = $1 ORDER BY tool_id, id DESC`,
    [caller.id],
  );
  const now = ctx.now();
  return new Map(rows.map((r: Record<string, unknown>) => [r.tool_id as string, statusOf(grantRow(r), now)]));
}

/** The agent's live grant for a tool (granted, not expired), or null. */
export async function liveGrant(ctx: AccessContext, agentId: number, toolId: string) {
  const { rows } = await ctx.pool.query(
    `SELECT * FROM ${ctx.names.grants}
      WHERE agent_id = $1 AND tool_id = $2 AND status = 'granted' AND (expires_at IS NULL OR expires_at > $3)`,
    [agentId, toolId, ctx.now()],
  );
  return rows[0] ? grantRow(rows[0]) : null;
}

/**
 * Counts `micros` against the grant's own budget, if it has one: one conditional UPDATE, so
 * concurrent calls never pass it together. False when it would not fit.
 */
export async function chargeGrant(ctx: AccessContext, grantId: number, micros: number): Promise<boolean> {
  if (micros === 0) return true;
  const { rows } = await ctx.pool.query(
    `UPDATE ${ctx.names.grants} SET spent_micros = spent_micros + $2
      WHERE id = $1 AND (budget_micros IS NULL OR spent_micros + $2 <= budget_micros) RETURNING id`,
    [grantId, micros],
  );
  return rows.length > 0;
}

/** Gives back what `chargeGrant` counted, for a call that turned out not to be charged. */
export async function refundGrant(ctx: AccessContext, grantId: number, micros: number): Promise<void> {
  if (micros === 0) return;
  await ctx.pool.query(
    `UPDATE ${ctx.names.grants} SET spent_micros = GREATEST(spent_micros - $2, 0) WHERE id = $1`,
    [grantId, micros],
  );
}
