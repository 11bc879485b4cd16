import { describe, expect, it } from 'vitest';
import { escapeHtml, html } from '../../src/html/escape.js';

describe('the one escaping rule', () => {
  it('escapes every character that can open markup or leave an attribute', () => {
    expect(escapeHtml(`<script>"x" & 'y' \`z\`</script>`)).toBe(
      '&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39; &#96;z&#96;&lt;/script&gt;',
    );
  });

  it('html`` escapes each value it is given, arrays included, and leaves only nested html`` as markup', () => {
    const name = '<img src=x onerror=alert(1)>';
    const out = html`<p title="${name}">${name}${[name, html`<b>${name}</b>`]}</p>`.text;
    expect(out).not.toContain('<img');
    expect(out).toContain('<b>&lt;img');
    expect(out.match(/&lt;img/g)).toHaveLength(4);
  });
});
