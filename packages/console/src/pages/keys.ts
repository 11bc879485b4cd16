import type { Request, Response } from 'express';
import { createForm, EMPTY_FIELDS } from '../actions/create-key.js';
import { type ConsoleContext, signedIn } from '../context.js';
import { html } from '../html/escape.js';
import { money, page, pager, table } from '../html/layout.js';
import { type KeyFilter, listRows } from '../sql/keys.js';
import { rowLink } from './overview.js';

const text = (v: unknown, max = 200) => (typeof v === 'string' && v.length > 0 ? v.slice(0, max) : undefined);

/** The query string as a filter; anything unknown is ignored, never echoed unescaped. */
export function keyFilter(q: Record<string, unknown>): KeyFilter {
  const status = text(q.status);
  const kind = text(q.kind);
  const before = text(q.before);
  return {
    q: text(q.q),
    accountId: text(q.account),
    issuer: text(q.issuer),
    status: status === 'live' || status === 'revoked' || status === 'expired' ? status : undefined,
    kind: kind === 'key' || kind === 'subject' ? kind : undefined,
    before: before && /^\d{1,9}$/.test(before) ? Number(before) : undefined,
  };
}

const option = (value: string, label: string, current: string | undefined) =>
  html`<option value="${value}"${current === value ? html` selected` : ''}>${label}</option>`;

export async function keysPage(ctx: ConsoleContext, req: Request, res: Response) {
  const { frame } = signedIn(res);
  const f = keyFilter(req.query as Record<string, unknown>);
  const { rows, next } = await listRows(ctx.pool, ctx.t, f, ctx.now());
  const query = { q: f.q, account: f.accountId, issuer: f.issuer, status: f.status, kind: f.kind };
  res.type('html').send(
    page(
      frame,
      'Keys & subjects',
      html`<form method="get" action="${frame.base}/keys" class="filters" role="search">
  <label>Search <input type="search" name="q" value="${f.q ?? ''}" placeholder="start of a name, subject or prefix; or an id"></label>
  <label>Account <input name="account" value="${f.accountId ?? ''}"></label>
  <label>Issuer <input name="issuer" value="${f.issuer ?? ''}" placeholder="e.g. clerk, https://idp…"></label>
  <label>Status <select name="status">${option('', 'any', f.status)}${option('live', 'live', f.status)}${option('revoked', 'revoked', f.status)}${option('expired', 'expired', f.status)}</select></label>
  <label>Kind <select name="kind">${option('', 'any', f.kind)}${option('key', 'native key', f.kind)}${option('subject', 'external subject', f.kind)}</select></label>
  <button type="submit">Filter</button>
</form>
${table(
  ['Key or subject', 'Kind', 'Prefix', 'Account', 'Status', 'Used', 'Held', 'Cap'],
  rows.map((r) => [
    rowLink(frame, r),
    r.kind,
    r.kind === 'key' ? r.prefix : '—',
    r.accountId,
    html`<span class="status status-${r.status}">${r.status}</span>`,
    money(r.usedCents),
    money(r.heldCents),
    money(r.limitCents),
  ]),
  'No key or subject matches.',
)}
${pager(frame, '/keys', query, 'before', next)}
<details class="new-key"><summary>New key</summary>
${createForm(frame, { ...EMPTY_FIELDS, account: f.accountId ?? '' })}
</details>`,
    ).text,
  );
}
