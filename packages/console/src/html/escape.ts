/**
 * The one escaping rule of the console. Every page is written with `html\`…\``: each value put
 * into the template is escaped, unless it is itself the result of `html` (already safe markup).
 * Nothing else in the package makes markup from strings, so a key name, subject, reason or tool
 * name can only ever render as text.
 */
export class SafeHtml {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/** Text and attribute values alike (every attribute is quoted with "). */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"'`]/g, (c) => ENTITIES[c] ?? c);
}

type Piece = SafeHtml | string | number | boolean | null | undefined | Date | readonly Piece[];

function render(value: Piece): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.text;
  if (Array.isArray(value)) return value.map((v) => render(v)).join('');
  if (value instanceof Date) return escapeHtml(value.toISOString());
  return escapeHtml(value);
}

export function html(strings: TemplateStringsArray, ...values: Piece[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += render(v) + (strings[i + 1] ?? '');
  });
  return new SafeHtml(out);
}

export type { Piece };
