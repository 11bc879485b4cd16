import type { Queryable } from '@agentkey/core';
import type { ConsoleTables } from './names.js';
import { paramList } from './params.js';

/** Who did what in the console: the signed-in human, as the access audit log records actors. */
export interface ConsoleEntry {
  actor: string;
  action: string;
  agentId?: number | null;
  toolId?: string | null;
  target?: string | null;
  detail?: Record<string, unknown>;
}

/**
 * Appends one row to the access audit log (`<keys>_access_audit`, append-only by its trigger) with
 * the human as actor. The console's own actions (`console.*`) sit beside access's, so one query
 * answers "who did what"; the access package's decisions write their own rows.
 */
export async function appendConsoleAudit(pool: Queryable, t: ConsoleTables, now: Date, e: ConsoleEntry) {
  await pool.query(
    `INSERT INTO ${t.audit} (at, actor_kind, actor, action, tool_id, agent_id, target, detail)
     VALUES ($1, 'human', $2, $3, $4, $5, $6, $7::jsonb)`,
    [
      now,
      e.actor,
      e.action,
      e.toolId ?? null,
      e.agentId ?? null,
      e.target ?? null,
      JSON.stringify(e.detail ?? {}),
    ],
  );
}

export interface AuditFilter {
  agentId?: number;
  toolId?: string;
  action?: string;
  actor?: string;
  from?: Date;
  to?: Date;
  before?: number;
}

export interface AuditLine {
  id: number;
  at: Date;
  actorKind: string;
  actor: string;
  action: string;
  toolId: string | null;
  agentId: number | null;
  target: string | null;
  detail: Record<string, unknown>;
}

/** The audit log newest first, keyset-paged by id; each filter is served by one of its indexes. */
export async function readAudit(
  pool: Queryable,
  t: ConsoleTables,
  f: AuditFilter,
  limit = 50,
): Promise<{ rows: AuditLine[]; next: number | null }> {
  const where: string[] = [];
  const { params, p } = paramList([]);
  if (f.before !== undefined) where.push(`id < ${p(f.before)}`);
  if (f.agentId !== undefined) where.push(`agent_id = ${p(f.agentId)}`);
  if (f.toolId) where.push(`tool_id = ${p(f.toolId)}`);
  if (f.action) where.push(`action = ${p(f.action)}`);
  if (f.actor) where.push(`actor = ${p(f.actor)}`);
  if (f.from) where.push(`at >= ${p(f.from)}`);
  if (f.to) where.push(`at < ${p(f.to)}`);
  const { rows } = await pool.query(
    `SELECT id, at, actor_kind, actor, action, tool_id, agent_id, target, detail FROM ${t.audit}
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ${limit + 1}`,
    params,
  );
  const page = rows.slice(0, limit).map((r: Record<string, unknown>) => ({
    id: Number(r.id),
    at: r.at as Date,
    actorKind: String(r.actor_kind),
    actor: String(r.actor),
    action: String(r.action),
    toolId: (r.tool_id as string | null) ?? null,
    agentId: r.agent_id === null ? null : Number(r.agent_id),
    target: (r.target as string | null) ?? null,
    detail: (r.detail as Record<string, unknown>) ?? {},
  }));
  return { rows: page, next: rows.length > limit ? page[page.length - 1]!.id : null };
}
