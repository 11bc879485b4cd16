import type { Request, Response } from 'express';
import { type ConsoleContext, signedIn } from '../context.js';
import { html } from '../html/escape.js';
import { csrfField, money, page, table, when } from '../html/layout.js';
import { noAccess } from './approvals.js';

/** The catalog (never a secret: only whether one is set and its version), the live grants, and what agents suggested. */
export async function toolsPage(ctx: ConsoleContext, _req: Request, res: Response) {
  const { frame } = signedIn(res);
  if (!ctx.access) return res.type('html').send(noAccess(frame, 'Tools & grants').text);
  const [tools, grants, suggestions] = await Promise.all([
    ctx.access.listTools(),
    ctx.access.listRequests({ status: 'granted' }),
    ctx.access.listSuggestions(),
  ]);
  res.type('html').send(
    page(
      frame,
      'Tools & grants',
      html`<section><h2>Tools</h2>${table(
        ['Id', 'Name', 'Base URL', 'Methods', 'Paths', 'Cost', 'Secret'],
        tools.map((t) => [
          t.id,
          t.name,
          t.baseUrl,
          t.methods.join(', '),
          t.pathPrefixes.join(', '),
          money(t.costCents ?? 0),
          t.hasSecret ? `sealed (v${t.secretVersion})` : 'none',
        ]),
        'No tool is defined.',
      )}</section>
<section><h2>Grants</h2>${table(
        ['Grant', 'Agent', 'Tool', 'Methods', 'Spent / budget', 'Expires', 'Decided by', ''],
        grants.map((g) => [
          `#${g.id}`,
          html`<a href="${frame.base}/keys/${g.agentId}">${g.agent}</a>`,
          g.toolId,
          (g.methods ?? []).join(', '),
          `${money(g.spentCents)} / ${money(g.budgetCents)}`,
          when(g.expiresAt),
          g.decidedBy ?? '',
          html`<form method="post" action="${frame.base}/grants/${g.id}/revoke">${csrfField(frame)}<button type="submit">Revoke</button></form>`,
        ]),
        'No live grant.',
      )}</section>
<section><h2>Suggestions</h2>${table(
        ['Tool', 'Agents', 'URLs', 'Reasons', 'Last'],
        suggestions.map((s) => [
          s.name,
          `${s.agents} agent(s) want it`,
          s.urls.join(' '),
          s.reasons.join(' · '),
          when(s.lastAt),
        ]),
        'No suggestions.',
      )}</section>`,
    ).text,
  );
}
