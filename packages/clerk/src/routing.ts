/** Routing only: nothing here verifies anything. */

export const OPAQUE_PREFIX = 'mt_';
export const MACHINE_PREFIX = 'mch_';
const CLERK_CATEGORY_PREFIX = 'cl_';
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** Far above any Clerk token: longer strings are not decoded at all. */
const MAX_TOKEN_LENGTH = 8192;

export interface PeekedJwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
}

export function isOpaqueM2M(token: string): boolean {
  return (
    token.length > OPAQUE_PREFIX.length && token.length <= MAX_TOKEN_LENGTH && token.startsWith(OPAQUE_PREFIX)
  );
}

/** Decodes a compact JWT's header and payload without verifying; null when it is not one. */
export function peekJwt(token: string): PeekedJwt | null {
  if (token.length > MAX_TOKEN_LENGTH || !JWT_SHAPE.test(token)) return null;
  const [header, payload] = token.split('.');
  const decodedHeader = decodePart(header!);
  const decodedPayload = decodedHeader && decodePart(payload!);
  return decodedHeader && decodedPayload ? { header: decodedHeader, payload: decodedPayload } : null;
}

/** A Clerk JWT: a Clerk token category in the header, or a machine subject. */
export function isClerkJwt(jwt: PeekedJwt): boolean {
  const { cat } = jwt.header;
  return (typeof cat === 'string' && cat.startsWith(CLERK_CATEGORY_PREFIX)) || isMachineJwt(jwt);
}

/** What @clerk/backend verifies locally as an M2M JWT (anything else it would post to Clerk). */
export function isMachineJwt(jwt: PeekedJwt): boolean {
  const { sub } = jwt.payload;
  return typeof sub === 'string' && sub.startsWith(MACHINE_PREFIX);
}

function decodePart(part: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}
