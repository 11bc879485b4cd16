import type { Access } from '@agentkey/access';
import type { AgentKey, Queryable } from '@agentkey/core';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { accessAction } from './actions/access-actions.js';
import { createKeyAction, secretPage } from './actions/create-key.js';
import { keyAction } from './actions/key-actions.js';
import { mountSignin, requireSession } from './auth.js';
import type { ConsoleContext } from './context.js';
import { type ConsoleOidcOptions, checkOidc, OidcClient } from './oidc.js';
import { mountOidc } from './oidc-signin.js';
import { accountsPage } from './pages/accounts.js';
import { approvalsPage } from './pages/approvals.js';
import { auditPage } from './pages/audit.js';
import { keyPage } from './pages/key.js';
import { keysPage } from './pages/keys.js';
import { overviewPage } from './pages/overview.js';
import { toolsPage } from './pages/tools.js';
import { Signer } from './session.js';
import { consoleTables } from './sql/names.js';
import { loadAssets, serveAsset } from './static.js';

export interface ConsoleOptions {
  agentKey: AgentKey;
  /** The pool `agentKey` was built on: the console reads its tables directly (indexed, keyset-paged). */
  pool: Queryable;
  /** Approvals, tools, grants, suggestions and the audit log; without it those pages say so. */
  access?: Access | null;
  /**
   * The scope an admin key must name explicitly to sign in (and an OIDC human's ID token, in the
   * claim `oidc.adminClaim` names). Default `console:admin`.
   */
  adminScope?: string;
  /** Also sign humans in through an OpenID Connect provider (authorization code flow with PKCE). */
  oidc?: ConsoleOidcOptions;
  /** Signs sessions (≥ 32 bytes). Default: random per process, so a restart signs everyone out. */
  sessionSecret?: string;
  /** How long a session lasts. Default 8 hours. */
  sessionTtlMs?: number;
  /** Mark cookies Secure: always, never, or (default) when the request came over https. */
  secureCookie?: boolean | 'auto';
  now?: () => Date;
}

/** Strict: scripts and styles from this origin only, no inline script, no framing, no plugins. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const DEFAULT_SCOPE = 'console:admin';

function check(options: ConsoleOptions): ConsoleContext {
  if (!options || typeof options !== 'object') throw new TypeError('agentKeyConsole needs options');
  const { agentKey, pool } = options;
  if (typeof agentKey?.getKey !== 'function')
    throw new TypeError('agentKeyConsole: agentKey must be an AgentKey');
  if (typeof pool?.query !== 'function') throw new TypeError('agentKeyConsole: pool must have query()');
  const adminScope = options.adminScope ?? DEFAULT_SCOPE;
  if (typeof adminScope !== 'string' || !/^[\x21-\x7e]{1,128}$/.test(adminScope))
    throw new TypeError('agentKeyConsole: adminScope must be a scope (printable, no spaces)');
  const ttl = options.sessionTtlMs ?? 8 * 3_600_000;
  if (!Number.isSafeInteger(ttl) || ttl < 60_000)
    throw new TypeError('agentKeyConsole: sessionTtlMs must be at least 60000');
  const oidc = checkOidc(options.oidc);
  return {
    ak: agentKey,
    pool,
    access: options.access ?? null,
    t: consoleTables(agentKey.tableName),
    signer: new Signer(options.sessionSecret),
    adminScope,
    oidc: oidc ? new OidcClient(oidc) : null,
    sessionTtlMs: ttl,
    secureCookie: options.secureCookie ?? 'auto',
    now: options.now ?? (() => new Date()),
  };
}

type Handler = (ctx: ConsoleContext, req: Request, res: Response) => Promise<unknown>;

/**
 * The console as an Express router: `app.use('/agentkey', agentKeyConsole({ agentKey, pool, access }))`.
 * Server-rendered pages, one script file, a strict CSP; a human signs in with an admin key, or through OIDC when configured.
 */
export function agentKeyConsole(options: ConsoleOptions): Router {
  const ctx = check(options);
  const assets = loadAssets();
  const router = express.Router();
  const wrap = (h: Handler) => (req: Request, res: Response, next: NextFunction) => {
    h(ctx, req, res).catch(next);
  };
  router.use((_req, res, next) => {
    res.set({
      'Content-Security-Policy': CONTENT_SECURITY_POLICY,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'X-Frame-Options': 'DENY',
      'Cache-Control': 'no-store',
    });
    next();
  });
  router.get('/static/:file', serveAsset(assets));
  router.use(express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 50 }));
  mountSignin(ctx, router);
  mountOidc(ctx, router);
  router.use(requireSession(ctx));
  router.get('/', wrap(overviewPage));
  router.get('/keys', wrap(keysPage));
  router.get('/keys/:id', wrap(keyPage));
  router.get('/keys/:id/secret', wrap(secretPage));
  router.get('/accounts', wrap(accountsPage));
  router.get('/approvals', wrap(approvalsPage));
  router.get('/tools', wrap(toolsPage));
  router.get('/audit', wrap(auditPage));
  router.post('/keys/new', wrap(createKeyAction));
  router.post('/keys/:id/:action', wrap(keyAction));
  router.post('/:what/:id/:decision', wrap(accessAction));
  return router;
}
