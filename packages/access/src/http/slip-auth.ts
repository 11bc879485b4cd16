import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Access } from '../access.js';
import { ACCESS_CODES, type AccessRefusal } from '../errors.js';
import { resolveSlip, type SlipCall } from '../store/slip-resolve.js';
import { SLIP_PREFIX } from '../store/slip-token.js';
import type { ErrorReporter } from './answer.js';

/** The slip calls this router resolved, by request: never on `req.agentKey`, which apps read. */
const slipCalls = new WeakMap<Request, SlipCall>();

export const slipCallOf = (req: Request): SlipCall | undefined => slipCalls.get(req);

// Express matches mount paths case-insensitively: so does this, or /PROXY/… would slip past it.
const PROXY_PATH = /^\/proxy\/[^/]/i;

/** The token of `Authorization: Bearer akp_…`, when that is the request's one Authorization line. */
function slipBearer(req: Request): string | null {
  const m = /^Bearer +(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!m?.[1]?.startsWith(SLIP_PREFIX)) return null;
  let lines = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2)
    if (req.rawHeaders[i]!.toLowerCase() === 'authorization') lines++;
  // Two Authorization lines: left to `auth`, which refuses them.
  return lines === 1 ? m[1] : null;
}

function refuseSlip(res: Response, req: Request, r: Pick<AccessRefusal, 'code' | 'message'>): void {
  // The agent's body was never read: close rather than read it to its end.
  if (!req.complete) res.setHeader('connection', 'close');
  if (ACCESS_CODES[r.code] === 401) res.setHeader('WWW-Authenticate', `Bearer error="invalid_token"`);
  res.status(ACCESS_CODES[r.code]).json({ error: r.code, error_description: r.message });
}

/**
 * In front of `auth`: a permit slip's token (`akp_…`) is taken here and nowhere else, on the proxy
 * only; on any other path it is refused 401 without reaching `auth` (so no verifier sends it to an
 * IdP). Every other credential goes to `auth` as before.
 */
export function slipOrAuth(access: Access, auth: RequestHandler, onError: ErrorReporter): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const token = slipBearer(req);
    if (token === null) return auth(req, res, next);
    if (!PROXY_PATH.test(req.path)) {
      return refuseSlip(res, req, {
        code: 'invalid_token',
        message: 'a permit slip token is accepted only by the proxy (/proxy/:tool/…)',
      });
    }
    resolveSlip(access.internals, token).then(
      (resolved) => {
        if ('ok' in resolved) return refuseSlip(res, req, resolved);
        slipCalls.set(req, resolved);
        next();
      },
      (error: unknown) => {
        onError(error, 'permit slip');
        if (!res.headersSent)
          res.status(500).json({ error: 'server_error', error_description: 'internal error' });
      },
    );
  };
}
