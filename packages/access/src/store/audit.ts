import type { Actor } from '../caller.js';
import type { AccessContext } from '../context.js';

/** What the audit log records: actions, never bodies or secrets. */
export type AuditAction =
  | 'tool.defined'
  | 'tool.suggested'
  | 'secret.set'
  | 'secret.rotated'
  | 'secret.resealed'
  | 'request.created'
  | 'request.approved'
  | 'request.denied'
  | 'grant.revoked'
  | 'credential.vended'
  | 'proxy.called'
  | 'permit.minted'
  | 'permit.revoked';

export interface AuditEntry {
  actor: Actor;
  action: AuditAction;
  toolId?: string | null;
  agentId?: number | null;
  target?: string | null;
  detail?: Record<string, unknown>;
}

export interface AuditRow extends Required<Omit<AuditEntry, 'detail'>> {
  id: number;
  at: Date;
  detail: Record<string, unknown>;
}

export interface AuditQuery {
  /** The agent's row in the keys table. */
  agentId?: number;
  toolId?: string;
  from?: Date;
  to?: Date;
  /** Rows after this id (paging). */
  afterId?: number;
  /** At most this many (default 100, at most 1000), oldest first. */
  limit?: number;
}

const COLUMNS = 'at, actor_kind, actor, action, tool_id, agent_id, target, detail';

const TYPES = ['timestamptz', 'text', 'text', 'text', 'text', 'integer', 'text', 'jsonb'];

/**
 * The INSERT of one entry, parameters from `$first`. With `from` (a CTE of the same statement), one
 * row per row of it: a change and its audit row commit together, and no change writes none.
 */
export function auditInsert(ctx: AccessContext, first: number, from?: string): string {
  const p = TYPES.map((type, i) => `$${first + i}::${type}`).join(', ');
  const into = `INSERT INTO ${ctx.names.audit} (${COLUMNS})`;
  return from ? `${into} SELECT ${p} FROM ${from}` : `${into} VALUES (${p})`;
}

export function auditParams(ctx: AccessContext, e: AuditEntry): unknown[] {
  return [
    ctx.now(),
    e.actor.kind,
    e.actor.id,
    e.action,
    e.toolId ?? null,
    e.agentId ?? null,
    e.target ?? null,
    JSON.stringify(e.detail ?? {}),
  ];
}

export async function appendAudit(ctx: AccessContext, e: AuditEntry): Promise<void> {
  await ctx.pool.query(auditInsert(ctx, 1), auditParams(ctx, e));
}

export async function queryAudit(ctx: AccessContext, q: AuditQuery = {}): Promise<AuditRow[]> {
  const limit = Math.min(Math.max(Math.trunc(q.limit ?? 100), 1), 1000);
  const { rows } = await ctx.pool.query(
    `SELECT id, ${COLUMNS} FROM ${ctx.names.audit}
      WHERE ($1::int IS NULL OR agent_id = $1) AND ($2::text IS NULL OR tool_id = $2)
        AND ($3::timestamptz IS NULL OR at >= $3) AND ($4::timestamptz IS NULL OR at < $4)
        AND ($5::bigint IS NULL OR id > $5)
      ORDER BY id LIMIT ${limit}`,
    [q.agentId ?? null, q.toolId ?? null, q.from ?? null, q.to ?? null, q.afterId ?? null],
  );
  return rows.map((r: Record<string, unknown>) => ({
    id: Number(r.id),
    at: new Date(r.at as string),
    actor: { kind: r.actor_kind as Actor['kind'], id: r.actor as string },
    action: r.action as AuditAction,
    toolId: (r.tool_id as string | null) ?? null,
    agentId: r.agent_id === null ? null : Number(r.agent_id),
    target: (r.target as string | null) ?? null,
    detail: (typeof r.detail === 'string' ? JSON.parse(r.detail) : r.detail) as Record<string, unknown>,
  }));
}
