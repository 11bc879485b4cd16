import type { IncomingMessage } from 'node:http';
import type { AuthError } from '@agentkey/core';

export type ParsedAuthorization = { ok: true; token: string } | { ok: false; error: AuthError };

/**
 * `Bearer`, in any case (RFC 7235 §2.1), exactly one space, then one token68 (RFC 6750 §2.1).
 * Node strips the header's surrounding whitespace, so `Bearer x ` arrives as `Bearer x`.
 */
const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i;
const SCHEME = /^Bearer(?:[ \t]|$)/i;

export const SEVERAL_HEADERS = 'Send one Authorization header, not several.';

type RequestHeaders = Pick<IncomingMessage, 'headers'> &
  Partial<Pick<IncomingMessage, 'headersDistinct' | 'rawHeaders'>>;

/**
 * How many `Authorization` lines came over the wire. Node keeps only the first one in
 * `req.headers`, so a proxy that reads the last could let a different token count there than here.
 * `headersDistinct` (Node 18.3+) has each line; `rawHeaders` is the fallback. A request built by
 * hand (serverless adapters assign `req.headers` and leave `rawHeaders` empty) has none: 0.
 */
export function authorizationLineCount(req: RequestHeaders): number {
  if (req.headersDistinct) return req.headersDistinct.authorization?.length ?? 0;
  if (!Array.isArray(req.rawHeaders)) return 0;
  return req.rawHeaders.filter((name, i) => i % 2 === 0 && name.toLowerCase() === 'authorization').length;
}

export type RequestAuthorization = { ok: true; header: string | undefined } | { ok: false; error: AuthError };

/**
 * The request's `Authorization` header as the app left it: `req.headers.authorization`, which is
 * what 0.2.0 read (apps copy an X-API-Key into it, or delete it, before the middleware). Only the
 * wire decides whether there were several: then it is `invalid_request`, whatever the app wrote.
 * The one reader for agentKeyAuth, agentKeyMiddleware and the routes behind it.
 */
export function requestAuthorization(req: RequestHeaders): RequestAuthorization {
  if (authorizationLineCount(req) > 1) return malformed(SEVERAL_HEADERS);
  return { ok: true, header: req.headers.authorization };
}

/**
 * The bearer token of an `Authorization` header value (the only place tokens are read from:
 * never the query string or the body). No header at all is `missing_credential`; anything but
 * exactly `Bearer <token68>` is `invalid_request`.
 */
export function parseAuthorization(header: string | readonly string[] | undefined): ParsedAuthorization {
  if (Array.isArray(header)) {
    if (header.length > 1) return malformed(SEVERAL_HEADERS);
    return parseAuthorization(header[0]);
  }
  if (header === undefined || header === '') {
    return {
      ok: false,
      error: {
        code: 'missing_credential',
        description: 'No credential: send it as "Authorization: Bearer <token>".',
      },
    };
  }
  const match = BEARER.exec(header as string);
  if (match) return { ok: true, token: match[1]! };
  return malformed(
    SCHEME.test(header as string)
      ? 'The Authorization header must be "Bearer", one space, and one token.'
      : 'The Authorization header must use the Bearer scheme.',
  );
}

function malformed(description: string): { ok: false; error: AuthError } {
  return { ok: false, error: { code: 'invalid_request', description } };
}
