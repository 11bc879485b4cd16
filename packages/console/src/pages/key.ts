import type { KeyInfo } from '@agentkey/core';
import type { Request, Response } from 'express';
import { type ConsoleContext, signedIn } from '../context.js';
import { html, type SafeHtml } from '../html/escape.js';
import { csrfField, type Frame, money, page, table, when } from '../html/layout.js';
import { gauge, spendChart } from '../html/widgets.js';
import { spendByDay } from '../sql/day-spend.js';
import { listChildren } from '../sql/keys.js';
import { rowLedger } from '../sql/ledger.js';
import { rowLink } from './overview.js';

export const parseId = (raw: unknown) =>
  typeof raw === 'string' && /^\d{1,9}$/.test(raw) ? Number(raw) : null;

export function notFound(res: Response, frame: Frame, what: string) {
  res
    .status(404)
    .type('html')
    .send(page(frame, 'Not found', html`<p>${what}</p>`).text);
}

function actionForm(frame: Frame, key: KeyInfo, action: string, label: string, fields: SafeHtml): SafeHtml {
  return html`<form method="post" action="${frame.base}/keys/${key.id}/${action}" class="action" data-action="${action}">
  ${csrfField(frame)}${fields}<button type="submit">${label}…</button>
</form>`;
}

function actions(frame: Frame, key: KeyInfo): SafeHtml {
  if (key.revokedAt)
    return html`<p class="status status-revoked">Revoked ${when(key.revokedAt)}: nothing more to change.</p>`;
  return html`<section class="actions"><h2>Change it (each asks you to confirm)</h2>
${actionForm(frame, key, 'topup', 'Top up', html`<label>Cents to add <input name="cents" inputmode="numeric" required></label>`)}
${actionForm(
  frame,
  key,
  'budget',
  'Set budget',
  html`<label>Cap in cents (empty: none) <input name="cents" inputmode="numeric" value="${key.budget.limitCents ?? ''}"></label>
  <label>Period <select name="period"><option value="">none</option>${['day', 'week', 'month'].map(
    (p) => html`<option value="${p}"${key.budget.period === p ? html` selected` : ''}>${p}</option>`,
  )}</select></label>`,
)}
${actionForm(frame, key, 'scopes', 'Change scopes', html`<label>Scopes, comma-separated (empty: unrestricted) <input name="scopes" value="${(key.scopes ?? []).join(', ')}"></label>`)}
${actionForm(frame, key, 'expiry', 'Change expiry', html`<label>Expires in (e.g. 24h, 30d; empty: never) <input name="expiresIn"></label>`)}
${actionForm(frame, key, 'revoke', 'Revoke', html``)}
</section>`;
}

export async function keyPage(ctx: ConsoleContext, req: Request, res: Response) {
  const { frame } = signedIn(res);
  const id = parseId(req.params.id);
  const key = id === null ? null : await ctx.ak.getKey(id);
  if (!key) return notFound(res, frame, 'No such key or subject.');
  const now = ctx.now();
  const byDay = req.query.by === 'day';
  // By day: the last 30 UTC days, today included, the final ones cached (sql/day-spend.ts).
  const from = new Date(now.getTime() - 48 * 3_600_000);
  const [spend, ledger, holds, children] = await Promise.all([
    byDay
      ? spendByDay(ctx.ak, key.id, now)
      : ctx.ak.spend({ keyId: key.id }, { from, to: now, groupBy: 'hour' }).then((r) => r.buckets ?? []),
    rowLedger(ctx.pool, ctx.t, key.id),
    ctx.ak.listHolds({ keyId: key.id, limit: 50 }),
    listChildren(ctx.pool, ctx.t, key.id, now),
  ]);
  const title = key.subject ?? key.name;
  const b = key.budget;
  res.type('html').send(
    page(
      frame,
      `${key.kind === 'subject' ? 'Subject' : 'Key'} #${key.id}: ${title}`,
      html`<dl class="facts">
  <dt>Kind</dt><dd>${key.kind}</dd><dt>Name</dt><dd>${key.name}</dd>
  ${key.subject ? html`<dt>Subject</dt><dd>${key.subject}</dd>` : html`<dt>Prefix</dt><dd>${key.keyPrefix}</dd>`}
  <dt>Account</dt><dd>${key.accountId}</dd>
  <dt>Scopes</dt><dd data-field="scopes">${key.scopes === null ? 'unrestricted' : key.scopes.join(', ') || 'none'}</dd>
  <dt>Period</dt><dd>${b.period ?? 'none'} (resets ${when(b.resetAt)})</dd>
  <dt>Expires</dt><dd data-field="expires">${when(key.expiresAt)}</dd>
  <dt>Status</dt><dd data-field="status">${key.revokedAt ? `revoked ${when(key.revokedAt)}` : 'live'}</dd>
  ${key.poolParentId ? html`<dt>Pool</dt><dd><a href="${frame.base}/keys/${key.poolParentId}">draws on #${key.poolParentId}</a></dd>` : ''}
</dl>
<section><h2>Budget</h2>${gauge(b)}</section>
<section><h2>Spend <small><a href="${frame.base}/keys/${key.id}">by hour (48 h)</a> · <a href="${frame.base}/keys/${key.id}?by=day">by day (30 d)</a></small></h2>
${spendChart('spend-chart', spend, byDay ? 'day' : 'hour')}</section>
${actions(frame, key)}
<section><h2>Open holds</h2>${table(
        ['Hold', 'Amount', 'Since', 'Until'],
        holds.map((h) => [h.id, money(h.amountCents), when(h.createdAt), when(h.expiresAt)]),
        'No open holds.',
      )}</section>
<section><h2>Children</h2>${table(
        ['Key', 'Status', 'Used'],
        children.rows.map((c) => [rowLink(frame, c), c.status, money(c.usedCents)]),
        'No pooled children.',
      )}</section>
<section><h2>Ledger (newest 50)</h2>${table(
        ['Entry', 'At', 'Kind', 'Amount', 'Actor'],
        ledger.map((l) => [l.id, when(l.at), l.kind, money(l.amountCents), l.actor ?? '']),
        'No ledger entries.',
      )}</section>`,
      ['uPlot.iife.min.js', 'console.js'],
    ).text,
  );
}
