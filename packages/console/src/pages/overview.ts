import type { Request, Response } from 'express';
import { type ConsoleContext, signedIn } from '../context.js';
import { html } from '../html/escape.js';
import { type Frame, money, page, table, when } from '../html/layout.js';
import { type RowSummary, readLive } from '../sql/overview.js';
import { REFRESH_MS, readSummary } from '../sql/overview-summary.js';

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
  const now = ctx.now();
  const [{ summary: o, asOf }, live] = await Promise.all([
    readSummary(ctx.pool, ctx.t, now),
    readLive(ctx.pool, ctx.t, now, ctx.access !== null),
  ]);
  const spendHead = ['Key or subject', 'Account', 'Used', 'Held', 'Cap'];
  const refusalHead = ctx.access ? ['Code', 'API calls', 'Tool calls'] : ['Code', 'API calls'];
  res.type('html').send(
    page(
      frame,
      'Overview',
      html`<p class="as-of" data-stat="as-of">Spend, top spenders and keys near their cap as of ${when(asOf)} UTC
  (recomputed in the background at most every ${REFRESH_MS / 1000} s while this page is viewed); holds and refusals live.</p>
<section class="tiles">
  <div class="tile"><h2>Spend today</h2><p class="big" data-stat="today">${money(o.todayCents)}</p><p>from the ledger, since 00:00 UTC</p></div>
  <div class="tile"><h2>Spend this period</h2><p class="big" data-stat="period">${money(o.periodCents)}</p><p>what the counters say, every budget's current period</p></div>
  <div class="tile"><h2>Open holds</h2><p class="big" data-stat="holds">${live.openHolds.count}</p><p>${money(live.openHolds.cents)} reserved</p></div>
</section>
<section><h2>Refusals by code (last 24 h)</h2>
${table(
  refusalHead,
  live.refusals.map((r) => (ctx.access ? [r.code, r.api, r.tools] : [r.code, r.api])),
  'No refusals in the last 24 hours.',
)}
<p>API calls: every process's refusal tally (authorize, reserve, the gate), written at most every 10 s.${
        ctx.access
          ? ' Tool calls: the access audit log.'
          : html` Mount the console with <code>access</code> to see refused tool calls too.`
      }</p>
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
