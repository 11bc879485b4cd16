import { agentActor, agentLabel, type Caller } from '../caller.js';
import type { AccessContext } from '../context.js';
import { type AccessResult, refuse } from '../errors.js';
import { checkText, checkUrl } from '../input.js';
import { auditInsert, auditParams } from './audit.js';

/** Suggestions of one tool name, from every agent that made one ("3 agents want Linear"). */
export interface SuggestionSummary {
  name: string;
  agents: number;
  urls: string[];
  reasons: string[];
  lastAt: Date;
}

/** `POST /tools/suggest`: one row per agent and tool name (a repeat updates the agent's reason). */
export async function suggestTool(
  ctx: AccessContext,
  caller: Caller,
  body: unknown,
): Promise<AccessResult<{ suggestion: SuggestionSummary }>> {
  const b = (body ?? {}) as Record<string, unknown>;
  const name = checkText(b.name, 'name', 100);
  if (!name.ok) return refuse('bad_request', name.message);
  const url = checkUrl(b.url, 'url');
  if (!url.ok) return refuse('bad_request', url.message);
  const reason = checkText(b.reason, 'reason');
  if (!reason.ok) return refuse('bad_request', reason.message);
  const key = name.value.toLowerCase().replace(/\s+/g, ' ');
  await ctx.pool.query(
    `WITH saved AS (
       INSERT INTO ${ctx.names.suggest} (name, name_key, url, reason, agent_id, agent, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (name_key, agent_id) DO UPDATE SET url = EXCLUDED.url, reason = EXCLUDED.reason,
         created_at = EXCLUDED.created_at
       RETURNING id),
     logged AS (${auditInsert(ctx, 8, 'saved')})
     SELECT id FROM saved`,
    [
      name.value,
      key,
      url.value,
      reason.value,
      caller.id,
      agentLabel(caller),
      ctx.now(),
      ...auditParams(ctx, {
        actor: agentActor(caller),
        action: 'tool.suggested',
        agentId: caller.id,
        target: `suggestion:${key}`,
        detail: { name: name.value, url: url.value },
      }),
    ],
  );
  const [summary] = await listSuggestions(ctx, key);
  return { ok: true, suggestion: summary! };
}

/** Suggestions grouped by tool name, most wanted first. */
export async function listSuggestions(ctx: AccessContext, nameKey?: string): Promise<SuggestionSummary[]> {
  const { rows } = await ctx.pool.query(
    `SELECT min(name) AS name, count(DISTINCT agent_id)::int AS agents, array_agg(DISTINCT url) AS urls,
        array_agg(reason ORDER BY id) AS reasons, max(created_at) AS last_at
      FROM ${ctx.names.suggest} WHERE ($1::text IS NULL OR name_key = $1)
      GROUP BY name_key ORDER BY agents DESC, last_at DESC LIMIT 200`,
    [nameKey ?? null],
  );
  return rows.map((r: Record<string, unknown>) => ({
    name: r.name as string,
    agents: Number(r.agents),
    urls: r.urls as string[],
    reasons: r.reasons as string[],
    lastAt: new Date(r.last_at as string),
  }));
}
