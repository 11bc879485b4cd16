/** Printable ASCII: what a realm may hold, checked once at construction. */
const REALM = /^[\x20-\x7e]{1,256}$/;

export function isRealm(value: unknown): value is string {
  return typeof value === 'string' && REALM.test(value);
}

/**
 * An RFC 7230 quoted-string: `"` and `\` escaped, anything outside printable ASCII replaced,
 * so a value can never end the parameter early or split the header.
 */
export function quoteParam(value: string): string {
  return `"${value.replace(/[^\x20-\x7e]/g, '?').replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** `Bearer realm="…"`, then each parameter in order (RFC 6750 §3). */
export function bearerChallenge(realm: string, params: Record<string, string> = {}): string {
  const parts = [`realm=${quoteParam(realm)}`];
  for (const [name, value] of Object.entries(params)) parts.push(`${name}=${quoteParam(value)}`);
  return `Bearer ${parts.join(', ')}`;
}
