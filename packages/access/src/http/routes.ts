import express, { type RequestHandler, type Router } from 'express';
import type { Access } from '../access.js';
import { AccessConfigError } from '../errors.js';
import type { ProxyLimits } from '../proxy/index.js';
import { HOLD_TTL_MS } from '../store/charge.js';
import { adminRoutes } from './admin-routes.js';
import { agentRoutes } from './agent-routes.js';
import type { ErrorReporter } from './answer.js';
import { DEFAULT_PROXY_LIMITS, proxyRoute } from './proxy-route.js';
import { slipOrAuth } from './slip-auth.js';

export interface AccessRoutesOptions {
  access: Access;
  /**
   * The middleware that proves the caller and sets `req.agentKey`: `agentKeyAuth({ agentKey, verifiers })`
   * of @agentkey/express, for native keys, OIDC, Auth0 and Clerk alike. Only a permit slip's own token
   * (`akp_…`) is taken here, before `auth`, on the proxy alone; `auth` never sees one.
   */
  auth: RequestHandler;
  /** Receives server bugs (the caller gets 500). Default console.error, never with a secret. */
  onError?: ErrorReporter;
  /** JSON body limit of the agent and admin routes (the proxy streams its own). Default 64kb. */
  bodyLimit?: string;
  /** The proxy's bounds: quiet time, request and response sizes, whole exchange (DEFAULT_PROXY_LIMITS). */
  proxyLimits?: Partial<ProxyLimits>;
}

/**
 * An Express router for agents and approvers: `GET /tools`, `POST /tools/suggest`,
 * `POST /tools/:id/request`, `GET /tools/:id/credentials`, `POST|DELETE /permits`, `ANY /proxy/:tool/*`
 * and `/admin/…`.
 */
export function accessRoutes(options: AccessRoutesOptions): Router {
  const {
    access,
    auth,
    onError = (error, context) => console.error(`agentkey access ${context}:`, error),
  } = options ?? ({} as AccessRoutesOptions);
  if (typeof access?.toolsFor !== 'function')
    throw new AccessConfigError('accessRoutes: access must be an Access', 'access');
  if (typeof auth !== 'function')
    throw new AccessConfigError('accessRoutes: auth must be a middleware (agentKeyAuth)', 'auth');
  if (typeof onError !== 'function')
    throw new AccessConfigError('accessRoutes: onError must be a function', 'onError');
  const limits = { ...DEFAULT_PROXY_LIMITS, ...options.proxyLimits };
  const longest = limits.maxDurationMs;
  if (longest === undefined || !(longest >= 1 && longest <= HOLD_TTL_MS)) {
    // A call past its hold would settle an expired hold: free, yet audited as charged.
    throw new AccessConfigError(
      `accessRoutes: proxyLimits.maxDurationMs must be 1-${HOLD_TTL_MS} ms (a call's cost is held that long)`,
      'proxyLimits',
    );
  }
  const router = express.Router();
  // A permit slip's token is resolved before `auth`, for the proxy alone; anything else goes to `auth`.
  router.use(slipOrAuth(access, auth, onError));
  // Before any body parser: the proxy streams the agent's body to the tool.
  proxyRoute(router, access, limits, onError);
  const json = express.json({ limit: options.bodyLimit ?? '64kb' });
  const body = express.Router();
  body.use(json);
  agentRoutes(body, access, onError);
  adminRoutes(body, access, onError);
  router.use(body);
  return router;
}
