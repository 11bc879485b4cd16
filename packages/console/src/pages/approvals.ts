import type { GrantInfo } from '@agentkey/access';
import type { Request, Response } from 'express';
import { type ConsoleContext, signedIn } from '../context.js';
import { html, type SafeHtml } from '../html/escape.js';
import { csrfField, type Frame, money, page, table, when } from '../html/layout.js';

export const noAccess = (frame: Frame, title: string) =>
  page(
    frame,
    title,
    html`<p class="empty">Tools and approvals need <code>@agentkey/access</code>: pass <code>access</code> to agentKeyConsole().</p>`,
  );

const asked = (r: GrantInfo) =>
  [
    r.asked.scopes ? `scopes ${r.asked.scopes.join(', ')}` : 'any scope',
    r.asked.ttlSec ? `for ${r.asked.ttlSec}s` : 'no end',
    r.asked.budgetCents !== null ? `up to ${money(r.asked.budgetCents)}` : 'no budget asked',
  ].join(' · ');

function decide(frame: Frame, r: GrantInfo): SafeHtml {
  return html`<form method="post" action="${frame.base}/requests/${r.id}/approve" class="approve" data-request="${r.id}">
  ${csrfField(frame)}
  <fieldset><legend>Approve, narrowing if you like</legend>
  <label>Expires in <input name="expiresIn" placeholder="1d"></label>
  <label>Budget ¢ <input name="budgetCents" inputmode="numeric"></label>
  <label>Methods <input name="methods" placeholder="GET, POST"></label>
  <label>Note <input name="note"></label>
  <button type="submit">Approve</button></fieldset>
</form>
<form method="post" action="${frame.base}/requests/${r.id}/deny" class="deny" data-request="${r.id}">
  ${csrfField(frame)}<label>Note <input name="note"></label><button type="submit">Deny</button>
</form>`;
}

export async function approvalsPage(ctx: ConsoleContext, _req: Request, res: Response) {
  const { frame } = signedIn(res);
  if (!ctx.access) return res.type('html').send(noAccess(frame, 'Approvals').text);
  const pending = await ctx.access.listRequests({ status: 'pending' });
  res.type('html').send(
    page(
      frame,
      'Approvals',
      table(
        ['Request', 'Agent', 'Tool', 'Reason', 'Asked for', 'Since', 'Decide'],
        pending.map((r) => [
          `#${r.id}`,
          html`<a href="${frame.base}/keys/${r.agentId}">${r.agent}</a>`,
          r.toolId,
          html`<q class="reason">${r.reason}</q>`,
          asked(r),
          when(r.createdAt),
          decide(frame, r),
        ]),
        'No request is waiting.',
      ),
    ).text,
  );
}
