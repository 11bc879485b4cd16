import type { Request, Response } from 'express';
import { type ConsoleContext, signedIn } from '../context.js';
import { html } from '../html/escape.js';
import { page, pager, table, when } from '../html/layout.js';
import { type AuditFilter, readAudit } from '../sql/audit.js';
import { noAccess } from './approvals.js';

const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v.slice(0, 200) : undefined);
const int = (v: unknown) => (typeof v === 'string' && /^\d{1,12}$/.test(v) ? Number(v) : undefined);
const date = (v: unknown) => {
  const d = typeof v === 'string' && v !== '' ? new Date(v) : null;
  return d && !Number.isNaN(d.getTime()) ? d : undefined;
};

export async function auditPage(ctx: ConsoleContext, req: Request, res: Response) {
  const { frame } = signedIn(res);
  if (!ctx.access) return res.type('html').send(noAccess(frame, 'Audit log').text);
  const q = req.query as Record<string, unknown>;
  const f: AuditFilter = {
    agentId: int(q.agent),
    toolId: str(q.tool),
    action: str(q.action),
    actor: str(q.actor),
    from: date(q.from),
    to: date(q.to),
    before: int(q.before),
  };
  const { rows, next } = await readAudit(ctx.pool, ctx.t, f);
  const input = (name: string, label: string, value: unknown, type = 'text') =>
    html`<label>${label} <input type="${type}" name="${name}" value="${typeof value === 'string' ? value : ''}"></label>`;
  res.type('html').send(
    page(
      frame,
      'Audit log',
      html`<form method="get" action="${frame.base}/audit" class="filters">
  ${input('agent', 'Agent row', q.agent)}${input('tool', 'Tool', q.tool)}${input('action', 'Action', q.action)}
  ${input('actor', 'Actor', q.actor)}${input('from', 'From', q.from, 'date')}${input('to', 'To', q.to, 'date')}
  <button type="submit">Filter</button>
</form>
${table(
  ['#', 'At', 'Actor', 'Action', 'Tool', 'Agent', 'Target', 'Detail'],
  rows.map((r) => [
    r.id,
    when(r.at),
    `${r.actorKind}: ${r.actor}`,
    r.action,
    r.toolId ?? '',
    r.agentId === null ? '' : html`<a href="${frame.base}/keys/${r.agentId}">#${r.agentId}</a>`,
    r.target ?? '',
    html`<code>${JSON.stringify(r.detail)}</code>`,
  ]),
  'Nothing recorded matches.',
)}
${pager(frame, '/audit', { agent: str(q.agent), tool: f.toolId, action: f.action, actor: f.actor, from: str(q.from), to: str(q.to) }, 'before', next)}`,
    ).text,
  );
}
