import { html, type SafeHtml } from './escape.js';
import { money } from './layout.js';

/**
 * The budget gauge as SVG (no inline style, which the CSP forbids): used solid, held striped,
 * left hollow, each part labelled in words, so it reads in greyscale and to a screen reader.
 */
export function gauge(b: { usedCents: number; heldCents: number; limitCents: number | null }): SafeHtml {
  const words = `used ${money(b.usedCents)}, held ${money(b.heldCents)}, ${
    b.limitCents === null
      ? 'no cap'
      : `left ${money(Math.max(b.limitCents - b.usedCents - b.heldCents, 0))} of ${money(b.limitCents)}`
  }`;
  if (b.limitCents === null || b.limitCents <= 0)
    return html`<p class="gauge-text" data-gauge="uncapped">${words}</p>`;
  const W = 400;
  const used = Math.min((b.usedCents / b.limitCents) * W, W);
  const held = Math.min((b.heldCents / b.limitCents) * W, W - used);
  const r = (n: number) => String(Math.round(n * 10) / 10);
  return html`<figure class="gauge" data-gauge="capped">
<svg viewBox="0 0 ${W} 30" width="${W}" height="30" role="img" aria-label="${words}">
  <defs><pattern id="held-stripes" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
    <rect width="3" height="6" class="held-stripe"></rect></pattern></defs>
  <rect x="0" y="0" width="${W}" height="30" class="gauge-left"></rect>
  <rect x="0" y="0" width="${r(used)}" height="30" class="gauge-used"></rect>
  <rect x="${r(used)}" y="0" width="${r(held)}" height="30" fill="url(#held-stripes)" class="gauge-held"></rect>
</svg>
<figcaption>${words}</figcaption>
</figure>`;
}

export interface Bucket {
  start: Date;
  cents: number;
}

/**
 * The spend chart: the data rides in a data attribute (escaped like any value) and
 * /static/console.js draws it with uPlot (time axis, a tooltip on hover, dashed line with point
 * markers so it needs no colour). The same numbers are in a table beneath, for reading without
 * script.
 */
export function spendChart(id: string, buckets: Bucket[], unit: 'hour' | 'day'): SafeHtml {
  const data = JSON.stringify(buckets.map((b) => [Math.floor(b.start.getTime() / 1000), b.cents]));
  return html`<figure class="chart-box">
<div id="${id}" class="spend-chart" data-points="${data}" data-unit="${unit}" data-label="Spend per ${unit} (¢)"></div>
<figcaption>Spend per ${unit}, in cents, from the ledger (${buckets.length} ${unit}s with spend).</figcaption>
<details><summary>The numbers</summary>
<table><thead><tr><th scope="col">${unit} starting</th><th scope="col">cents</th></tr></thead>
<tbody>${buckets.map((b) => html`<tr><td>${b.start.toISOString()}</td><td>${money(b.cents)}</td></tr>`)}</tbody></table>
</details>
</figure>`;
}
