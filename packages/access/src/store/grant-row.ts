/** A request for a tool, and the grant it becomes once approved. */
export interface GrantInfo {
  id: number;
  toolId: string;
  /** The agent's row in the keys table, and its label (subject or `key:<id>`). */
  agentId: number;
  agent: string;
  status: 'pending' | 'granted' | 'denied' | 'revoked' | 'expired';
  reason: string;
  asked: { scopes: string[] | null; ttlSec: number | null; budgetCents: number | null };
  /** Set once granted: what the grant allows. */
  methods: string[] | null;
  expiresAt: Date | null;
  budgetCents: number | null;
  spentCents: number;
  rateLimit: { requests: number; windowSec: number } | null;
  decidedBy: string | null;
  decidedAt: Date | null;
  note: string | null;
  createdAt: Date;
}

/**
 * The status a caller sees per tool in `GET /tools`. An expired grant reads `revoked` with
 * `expired: true` (ToolAccess): it no longer works, and the agent may ask again.
 */
export type ToolStatus = 'none' | 'pending' | 'granted' | 'denied' | 'revoked';

/** A caller's access to one tool: its status, and `expired` when a grant ran out rather than was revoked. */
export interface ToolAccess {
  status: ToolStatus;
  expired?: true;
}

const MICROS = 10_000;
const cents = (micros: unknown) => (micros === null || micros === undefined ? null : Number(micros) / MICROS);
const date = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string));

export function grantRow(r: Record<string, unknown>): GrantInfo & { agentRoot: number } {
  return {
    id: Number(r.id),
    toolId: r.tool_id as string,
    agentId: Number(r.agent_id),
    agentRoot: Number(r.agent_root),
    agent: r.agent as string,
    status: r.status as GrantInfo['status'],
    reason: r.reason as string,
    asked: {
      scopes: (r.asked_scopes as string[] | null) ?? null,
      ttlSec: r.asked_ttl_sec === null ? null : Number(r.asked_ttl_sec),
      budgetCents: cents(r.asked_budget_micros),
    },
    methods: (r.methods as string[] | null) ?? null,
    expiresAt: date(r.expires_at),
    budgetCents: cents(r.budget_micros),
    spentCents: cents(r.spent_micros) ?? 0,
    rateLimit:
      r.rate_requests === null
        ? null
        : { requests: Number(r.rate_requests), windowSec: Number(r.rate_window_sec) },
    decidedBy: (r.decided_by as string | null) ?? null,
    decidedAt: date(r.decided_at),
    note: (r.note as string | null) ?? null,
    createdAt: new Date(r.created_at as string),
  };
}

/** Field by field, leaving out what only the store needs. */
export function grantInfo({ agentRoot: _, ...info }: GrantInfo & { agentRoot: number }): GrantInfo {
  return info;
}

/** What a caller sees of its latest request or grant for a tool, as of `now`. */
export function statusOf(g: GrantInfo | undefined, now: Date): ToolAccess {
  if (!g) return { status: 'none' };
  const ran =
    g.status === 'expired' || (g.status === 'granted' && g.expiresAt !== null && g.expiresAt <= now);
  if (ran) return { status: 'revoked', expired: true };
  return { status: g.status as ToolStatus };
}
