import type { AuditRow, GrantInfo, SuggestionSummary, ToolInfo } from '@agentkey/access';
import type { Colours } from '../cli.js';
import { money, when } from './format.js';

// How @agentkey/access's records read in tables. None of them carries a secret: a tool says only
// whether one is set and its version, and the audit log never records one.

const list = (items: readonly string[] | null) => (items === null ? 'as the tool' : items.join(','));

export function secretText(t: ToolInfo): string {
  return t.hasSecret ? `v${t.secretVersion}` : 'none';
}

export const TOOL_HEAD = ['id', 'name', 'base url', 'methods', 'paths', 'cost', 'secret'];

export function toolCells(t: ToolInfo): string[] {
  return [
    t.id,
    t.name,
    t.baseUrl,
    t.methods.join(','),
    t.pathPrefixes.join(','),
    t.costCents === null ? '-' : money(t.costCents),
    secretText(t),
  ];
}

export function toolFields(t: ToolInfo): Array<[string, string]> {
  const actions = Object.entries(t.actions).map(
    ([name, a]) => `${name} (${a.methods.join(',')} ${a.pathPrefixes.join(',')})`,
  );
  return [
    ['id', t.id],
    ['name', t.name],
    ['base url', t.baseUrl],
    ['presented as', `${t.secretHeader}: ${t.secretTemplate}`],
    ['methods', t.methods.join(',')],
    ['paths', t.pathPrefixes.join(',')],
    ['actions', actions.length ? actions.join('; ') : '-'],
    ['cost per call', t.costCents === null ? '-' : money(t.costCents)],
    ['secret', t.hasSecret ? `set (version ${t.secretVersion})` : 'none'],
  ];
}

export function statusText(status: GrantInfo['status'], c: Colours): string {
  if (status === 'granted') return c.green(status);
  if (status === 'pending') return c.yellow(status);
  return status === 'denied' || status === 'revoked' ? c.red(status) : c.dim(status);
}

const ttl = (sec: number | null) =>
  sec === null ? 'no expiry' : sec % 86_400 === 0 ? `${sec / 86_400}d` : `${sec}s`;

/** What the agent asked for, in one cell: `7d, $2.00`. */
export function askedText(g: GrantInfo): string {
  const asked = [ttl(g.asked.ttlSec), g.asked.budgetCents === null ? 'no cap' : money(g.asked.budgetCents)];
  if (g.asked.scopes) asked.push(g.asked.scopes.join(','));
  return asked.join(', ');
}

export const REQUEST_HEAD = ['id', 'tool', 'agent', 'status', 'reason', 'asked', 'created'];

export function requestCells(g: GrantInfo, c: Colours): string[] {
  return [
    String(g.id),
    g.toolId,
    g.agent,
    statusText(g.status, c),
    g.reason,
    askedText(g),
    when(g.createdAt),
  ];
}

export const GRANT_HEAD = ['id', 'tool', 'agent', 'status', 'methods', 'expires', 'spent', 'rate', 'by'];

export function grantCells(g: GrantInfo, c: Colours): string[] {
  return [
    String(g.id),
    g.toolId,
    g.agent,
    statusText(g.status, c),
    list(g.methods),
    when(g.expiresAt),
    `${money(g.spentCents)} / ${money(g.budgetCents)}`,
    g.rateLimit ? `${g.rateLimit.requests}/${g.rateLimit.windowSec}s` : '-',
    g.decidedBy ?? '-',
  ];
}

export const SUGGESTION_HEAD = ['name', 'agents', 'urls', 'reasons', 'last'];

export function suggestionCells(s: SuggestionSummary): string[] {
  return [s.name, String(s.agents), s.urls.join(' '), s.reasons.join(' | '), when(s.lastAt)];
}

export const AUDIT_HEAD = ['id', 'at', 'actor', 'action', 'tool', 'agent', 'target', 'detail'];

export function auditCells(r: AuditRow): string[] {
  const detail = Object.keys(r.detail).length ? JSON.stringify(r.detail) : '-';
  return [
    String(r.id),
    when(r.at),
    `${r.actor.kind}:${r.actor.id}`,
    r.action,
    r.toolId ?? '-',
    r.agentId === null ? '-' : String(r.agentId),
    r.target ?? '-',
    detail,
  ];
}
