/**
 * The token of an `Authorization: Bearer <token>` header, or null when there is none.
 * The scheme is matched case-insensitively (RFC 7235); 0.2.0's `Bearer ` still matches.
 */
export function bearerToken(header: string | undefined): string | null {
  if (typeof header !== 'string') return null;
  const match = /^bearer +(.*)$/is.exec(header);
  const token = match?.[1]?.trim();
  return token ? token : null;
}
