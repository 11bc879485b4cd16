import type { Request, Router } from 'express';
import type { Access } from '../access.js';
import { ACCESS_CODES } from '../errors.js';
import { forward, type ProxyLimits } from '../proxy/index.js';
import { clearProxyCall } from '../store/proxy-call.js';
import { callerOf, credentialOf, type ErrorReporter, guard } from './answer.js';
import { slipCallOf } from './slip-auth.js';

export const DEFAULT_PROXY_LIMITS: ProxyLimits = {
  timeoutMs: 30_000,
  maxRequestBytes: 10 * 1024 * 1024,
  maxResponseBytes: 100 * 1024 * 1024,
  maxDurationMs: 120_000,
};

/** Ours, never the tool's: the agent's own credential and anything our headers carry. */
function ours(req: Request): string[] {
  const named = Object.keys(req.headers).filter((h) => h.startsWith('x-agentkey-'));
  return ['authorization', 'proxy-authorization', 'cookie', ...named];
}

/**
 * `ANY /proxy/:tool/*`: forwards the agent's request to the tool with the secret injected, so the
 * agent never sees it. Mounted before any body parser: bodies stream both ways.
 */
export function proxyRoute(
  router: Router,
  access: Access,
  limits: ProxyLimits,
  onError: ErrorReporter,
): void {
  router.use(
    '/proxy/:tool',
    guard(
      'ANY /proxy/:tool/*',
      onError,
      async (req, res, caller) => {
        const refuseWith = (status: number, error: string, message: string, retryAfterSec?: number) => {
          if (res.headersSent) return;
          // The agent's body was never read: close rather than read it to its end.
          if (!req.complete) res.setHeader('connection', 'close');
          if (retryAfterSec !== undefined)
            res.setHeader('Retry-After', String(Math.max(1, Math.ceil(retryAfterSec))));
          res.status(status).json({ error, error_description: message });
        };
        const slipCall = slipCallOf(req);
        const credential = slipCall?.credential ?? credentialOf(req, caller);
        if (!credential)
          return refuseWith(ACCESS_CODES.not_permitted, 'not_permitted', 'no bearer credential');
        const cleared = await clearProxyCall(
          access.internals,
          caller,
          credential,
          slipCall?.slip ?? null,
          req.params.tool,
          req.method,
          req.url,
        );
        if (!cleared.ok) {
          if ('status' in cleared) return refuseWith(cleared.status, cleared.code, cleared.message);
          // The store's refusals too: answered before the body is read, so the connection closes.
          return refuseWith(ACCESS_CODES[cleared.code], cleared.code, cleared.message, cleared.retryAfterSec);
        }
        let outcome: Awaited<ReturnType<typeof forward>>;
        try {
          outcome = await forward(cleared.route, cleared.secret, cleared.url, req, res, limits, ours(req));
        } catch (error) {
          await cleared.finish({
            ok: false,
            code: 'upstream_error',
            status: 502,
            message: 'proxy failure',
            answered: res.headersSent,
            requestBytes: 0,
            responseBytes: 0,
          });
          throw error;
        }
        await cleared.finish(outcome);
        if (!outcome.ok && !outcome.answered) refuseWith(outcome.status, outcome.code, outcome.message);
      },
      (req) => slipCallOf(req)?.caller ?? callerOf(req),
    ),
  );
}
