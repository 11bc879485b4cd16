import type { Request, Response } from 'express';
import { type ConsoleContext, signedIn } from '../context.js';
import { html } from '../html/escape.js';
import { type Frame, money, page, table } from '../html/layout.js';
import { type RowSummary, readOverview } from '../sql/overview.js';

export const rowLink = (frame: Frame, r: { id: number; name: string; subject: string | null }) =>
  html`<a href="${frame.base}/keys/${r.id}">#${r.id} ${r.subject ?? r.name}</a>`;

const spendRow = (frame: Frame, r: RowSummary) => [
  rowLink(frame, r),
  r.accountId,
  money(r.usedCents),
  money(r.heldCents),
  money(r.limitCents),
];

export async function overviewPage(ctx: ConsoleContext, _req: Request, res: Response) {
  const { frame } = signedIn(res);
  const o = await readOverview(ctx.pool, ctx.t, ctx.now(), ctx.access !== null);
  const spendHead = ['Key or subject', 'Account', 'Used', 'Held', 'Cap'];
  res.type('html').send(
    page(
      frame,
      'Overview',
      html`<section class="tiles">
  <div class="tile"><h2>Spend today</h2><p class="big" data-stat="today">${money(o.todayCents)}</p><p>from the ledger, since 00:00 UTC</p></div>
  <div class="tile"><h2>Spend this period</h2><p class="big" data-stat="period">${money(o.periodCents)}</p><p>what the counters say, every budget's current period</p></div>
  <div class="tile"><h2>Open holds</h2><p class="big" data-stat="holds">${o.openHolds.count}</p><p>${money(o.openHolds.cents)} reserved</p></div>
</section>
<section><h2>Refusals by code (last 24 h)</h2>
${
  ctx.access
    ? table(
        ['Code', 'Count'],
        o.refusals.map((r) => [r.code, r.count]),
        'No refused tool calls in the last 24 hours.',
      )
    : html`<p class="empty">Refusals come from the access audit log: mount the console with <code>access</code>.</p>`
}
</section>
<section><h2>Top spenders</h2>${table(
        spendHead,
        o.topSpenders.map((r) => spendRow(frame, r)),
        'No spend yet.',
      )}</section>
<section><h2>Near their cap (80% or more used or held)</h2>${table(
        [...spendHead, 'Of cap'],
        o.nearCap.map((r) => [...spendRow(frame, r), `${Math.round(r.ratio * 100)}%`]),
        'No key is near its cap.',
      )}</section>`,
    ).text,
  );
}
