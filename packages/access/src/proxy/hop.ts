/** Header plumbing shared by both directions. */

/** RFC 9110 §7.6.1 hop-by-hop fields, plus the proxy-only ones of §11.7. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'te',
  'transfer-encoding',
  'upgrade',
  'trailer',
  'proxy-authenticate',
  'proxy-authorization',
]);

/** A field value node would refuse to send, and any CR, LF or NUL (the smuggling characters). */
export const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

export type HeaderPairs = [name: string, value: string][];

/** node's rawHeaders ([name, value, name, value, …]) as lower-cased pairs. */
export function pairs(raw: readonly string[]): HeaderPairs {
  const out: HeaderPairs = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i]!.toLowerCase(), raw[i + 1]!]);
  return out;
}

/** The header names a message's own Connection fields declare hop-by-hop. */
export function connectionNamed(headers: HeaderPairs): Set<string> {
  const named = new Set<string>();
  for (const [name, value] of headers) {
    if (name !== 'connection') continue;
    for (const token of value.split(',')) named.add(token.trim().toLowerCase());
  }
  return named;
}

/** Pairs → node's outgoing header object, repeated names kept as arrays. */
export function toObject(headers: HeaderPairs): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null);
  for (const [name, value] of headers) {
    const seen = out[name];
    out[name] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return out;
}
