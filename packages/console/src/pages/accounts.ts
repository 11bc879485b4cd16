import type { Request, Response } from 'express';
import { type ConsoleContext, signedIn } from '../context.js';
import { html } from '../html/escape.js';
import { money, page, pager, table, when } from '../html/layout.js';
import { listAccounts } from '../sql/ledger.js';

export async function accountsPage(ctx: ConsoleContext, req: Request, res: Response) {
  const { frame } = signedIn(res);
  const after = typeof req.query.after === 'string' ? req.query.after.slice(0, 200) : undefined;
  const { rows, next } = await listAccounts(ctx.pool, ctx.t, after);
  res.type('html').send(
    page(
      frame,
      'Accounts',
      html`<p>Accounts with a ceiling shared by all their keys and subjects (<code>setAccountBudget</code>).</p>
${table(
  ['Account', 'Ceiling', 'Used', 'Held', 'Period', 'Resets', 'Keys'],
  rows.map((a) => [
    a.accountId,
    money(a.limitCents),
    money(a.usedCents),
    money(a.heldCents),
    a.period ?? 'none',
    when(a.resetAt),
    html`<a href="${frame.base}/keys?${new URLSearchParams({ account: a.accountId }).toString()}">its keys</a>`,
  ]),
  'No account has a ceiling.',
)}
${pager(frame, '/accounts', {}, 'after', next)}`,
    ).text,
  );
}
