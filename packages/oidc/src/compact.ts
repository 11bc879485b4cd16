/** Longer tokens are refused before any parsing: a cheap cap on the work a caller can cause. */
export const MAX_TOKEN_LENGTH = 8192;

// Three base64url parts; the signature may be empty so that `alg: none` is refused by name, not as noise.
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export type JsonObject = Record<string, unknown>;
export interface DecodedJwt {
  header: JsonObject;
  payload: JsonObject;
}
export type Decoded = { ok: true; jwt: DecodedJwt } | { ok: false; description: string };

/** Whether the credential has the shape of a compact JWS within the size cap. No decoding. */
export function looksLikeJwt(credential: string): boolean {
  return (
    typeof credential === 'string' && credential.length <= MAX_TOKEN_LENGTH && COMPACT_JWS.test(credential)
  );
}

/** Decodes one base64url JSON object part, or null. Never verifies anything. */
export function decodePart(part: string): JsonObject | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as JsonObject)
      : null;
  } catch {
    return null;
  }
}

/** The unverified header and payload of a compact JWT: for routing and early refusal only. */
export function decodeCompact(credential: string): Decoded {
  if (typeof credential !== 'string' || credential.length > MAX_TOKEN_LENGTH) {
    return { ok: false, description: `The token is longer than ${MAX_TOKEN_LENGTH} characters.` };
  }
  if (!COMPACT_JWS.test(credential)) {
    return { ok: false, description: 'The token is not a compact JWT.' };
  }
  const [head, body] = credential.split('.');
  const header = decodePart(head!);
  const payload = decodePart(body!);
  if (!header || !payload) {
    return { ok: false, description: 'The token header or payload is not a JSON object.' };
  }
  return { ok: true, jwt: { header, payload } };
}

/** The payload's `iss`, decoding only the payload part. */
export function unverifiedIssuer(credential: string): string | undefined {
  if (!looksLikeJwt(credential)) return undefined;
  const payload = decodePart(credential.slice(credential.indexOf('.') + 1, credential.lastIndexOf('.')));
  return typeof payload?.iss === 'string' ? payload.iss : undefined;
}
