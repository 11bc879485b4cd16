import { html, type Piece, type SafeHtml } from './escape.js';

/** What every page needs to draw its frame: where the console is mounted and the session's CSRF token. */
export interface Frame {
  base: string;
  csrf: string | null;
  who: string | null;
}

const NAV: Array<[string, string]> = [
  ['/', 'Overview'],
  ['/keys', 'Keys & subjects'],
  ['/accounts', 'Accounts'],
  ['/approvals', 'Approvals'],
  ['/tools', 'Tools & grants'],
  ['/audit', 'Audit log'],
];

/** The page shell: styles and scripts are files under /static (the CSP allows no inline script). */
export function page(frame: Frame, title: string, body: Piece, scripts: string[] = []): SafeHtml {
  const s = (path: string) => `${frame.base}/static/${path}`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · agentkey console</title>
<link rel="stylesheet" href="${s('uPlot.min.css')}">
<link rel="stylesheet" href="${s('console.css')}">
${scripts.map((name) => html`<script src="${s(name)}" defer></script>`)}
</head>
<body>
<header>
  <a class="brand" href="${frame.base}/">agentkey console</a>
  ${
    frame.csrf
      ? html`<nav>${NAV.map(([path, label]) => html`<a href="${frame.base}${path}">${label}</a>`)}</nav>
  <form method="post" action="${frame.base}/signout" class="signout">
    <input type="hidden" name="_csrf" value="${frame.csrf}">
    <span>${frame.who}</span> <button type="submit">Sign out</button>
  </form>`
      : ''
  }
</header>
<main>
<h1>${title}</h1>
${body}
</main>
</body>
</html>`;
}

export function csrfField(frame: Frame): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${frame.csrf ?? ''}">`;
}

export function table(headers: string[], rows: Piece[][], empty = 'Nothing here.'): SafeHtml {
  if (rows.length === 0) return html`<p class="empty">${empty}</p>`;
  return html`<table>
<thead><tr>${headers.map((h) => html`<th scope="col">${h}</th>`)}</tr></thead>
<tbody>${rows.map((r) => html`<tr>${r.map((c) => html`<td>${c}</td>`)}</tr>`)}</tbody>
</table>`;
}

export const money = (c: number | null) => (c === null ? 'no cap' : `${Number(c.toFixed(4))}¢`);

export const when = (d: Date | null) => (d ? d.toISOString().replace('T', ' ').slice(0, 19) : '—');

/** A link to the next page of a keyset listing, keeping the current filters. */
export function pager(
  frame: Frame,
  path: string,
  query: Record<string, string | undefined>,
  key: string,
  next: unknown,
) {
  if (next === null || next === undefined) return html``;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v && k !== key) q.set(k, v);
  q.set(key, String(next));
  return html`<p class="pager"><a href="${frame.base}${path}?${q.toString()}">Next page →</a></p>`;
}
