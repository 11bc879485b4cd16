import { randomBytes } from 'node:crypto';
import type { KeyInfo } from '@agentkey/core';
import type { NextFunction, Request, RequestHandler, Response, Router } from 'express';
import {
  baseOf,
  type ConsoleContext,
  PRE_COOKIE,
  passErrors,
  SESSION_COOKIE,
  type SignedIn,
} from './context.js';
import { signinPage } from './pages/signin.js';
import { parseCookies, type SessionSubject } from './session.js';
import { appendConsoleAudit } from './sql/audit.js';

/**
 * A console cookie: HttpOnly, scoped to the mount path, SameSite=Strict. Only the OIDC round trip's
 * cookie is Lax: the provider's redirect back is a cross-site navigation, on which a Strict cookie
 * is not sent.
 */
export function cookie(
  ctx: ConsoleContext,
  req: Request,
  name: string,
  value: string,
  maxAgeSec: number,
  sameSite: 'Strict' | 'Lax' = 'Strict',
): string {
  const secure = ctx.secureCookie === 'auto' ? req.secure : ctx.secureCookie;
  const path = baseOf(req) || '/';
  return `${name}=${value}; Path=${path}; Max-Age=${maxAgeSec}; HttpOnly; SameSite=${sameSite}${secure ? '; Secure' : ''}`;
}

/** An admin is a live row whose scopes name the admin scope explicitly: an unrestricted key is not one. */
export function isAdmin(ctx: ConsoleContext, key: KeyInfo | null, now: Date): key is KeyInfo {
  return (
    key !== null &&
    key.revokedAt === null &&
    (key.expiresAt === null || key.expiresAt > now) &&
    key.scopes?.includes(ctx.adminScope) === true
  );
}

export const actorOf = (key: KeyInfo) => `console:${key.name}#${key.id}`;
/** An OIDC human in the audit log: `console:<email or sub>#oidc:<sub>`. */
export const humanActor = (h: { sub: string; email: string | null }) =>
  `console:${h.email ?? h.sub}#oidc:${h.sub}`;

export function showSignin(
  ctx: ConsoleContext,
  req: Request,
  res: Response,
  status: number,
  error: string | null,
  extraCookies: string[] = [],
) {
  const pre = randomBytes(16).toString('base64url');
  res.setHeader('Set-Cookie', [cookie(ctx, req, PRE_COOKIE, pre, 600), ...extraCookies]);
  const frame = { base: baseOf(req), csrf: null, who: null };
  const oidc = ctx.oidc ? ctx.oidc.settings.issuer.href : null;
  res
    .status(status)
    .type('html')
    .send(signinPage(frame, ctx.signer.mac('pre', pre), ctx.adminScope, error, oidc).text);
}

/**
 * A new session for `who`, replacing any the browser had (a fresh nonce, so no earlier session's
 * CSRF token survives sign-in), and the audit row naming the human.
 */
export async function startSession(
  ctx: ConsoleContext,
  req: Request,
  res: Response,
  who: SessionSubject,
  entry: { actor: string; target: string },
  extraCookies: string[] = [],
) {
  const now = ctx.now();
  const token = ctx.signer.issue(who, ctx.sessionTtlMs, now.getTime());
  res.setHeader('Set-Cookie', [
    cookie(ctx, req, SESSION_COOKIE, token, Math.floor(ctx.sessionTtlMs / 1000)),
    cookie(ctx, req, PRE_COOKIE, '', 0),
    ...extraCookies,
  ]);
  if (ctx.access) await appendConsoleAudit(ctx.pool, ctx.t, now, { ...entry, action: 'console.signin' });
}

/** GET/POST /signin and POST /signout. Sign-in has its own CSRF pair (a cookie and its HMAC in the form). */
export function mountSignin(ctx: ConsoleContext, router: Router): void {
  router.get('/signin', (req, res) => showSignin(ctx, req, res, 200, null));
  router.post(
    '/signin',
    passErrors(async (req: Request, res: Response) => {
      const pre = parseCookies(req.headers.cookie).get(PRE_COOKIE);
      if (!pre || !ctx.signer.same(req.body?._csrf, ctx.signer.mac('pre', pre)))
        return showSignin(ctx, req, res, 403, 'The form expired; sign in again.');
      const window = await ctx.ak.rateLimitHit(`console:signin:${req.ip ?? 'unknown'}`, {
        requests: 20,
        windowSec: 60,
      });
      if (!window.ok) return showSignin(ctx, req, res, 429, 'Too many attempts; wait a minute.');
      const raw = req.body?.key;
      const now = ctx.now();
      const valid = typeof raw === 'string' && raw.length < 200 ? await ctx.ak.validate(raw) : null;
      const key = valid?.valid ? await ctx.ak.getKey(valid.id) : null;
      if (!isAdmin(ctx, key, now))
        return showSignin(
          ctx,
          req,
          res,
          401,
          `Not an admin key: sign in with a live key whose scopes name ${ctx.adminScope}.`,
        );
      await startSession(ctx, req, res, { keyId: key.id }, { actor: actorOf(key), target: `key:${key.id}` });
      res.redirect(303, `${baseOf(req)}/`);
    }),
  );
  router.post(
    '/signout',
    requireSession(ctx),
    passErrors(async (req: Request, res: Response) => {
      const { actor, admin } = res.locals.console as SignedIn;
      res.setHeader('Set-Cookie', cookie(ctx, req, SESSION_COOKIE, '', 0));
      if (ctx.access)
        await appendConsoleAudit(ctx.pool, ctx.t, ctx.now(), {
          actor,
          action: 'console.signout',
          target: admin ? `key:${admin.id}` : `oidc:${ctx.oidc?.settings.issuer.href ?? ''}`,
        });
      res.redirect(303, `${baseOf(req)}/signin`);
    }),
  );
}

/**
 * Every page and action past sign-in. No session: a page redirects to sign-in, an action is a 401.
 * A POST must carry this session's CSRF token. A key session re-reads the admin key's row on each
 * request, so a revoked or demoted admin is out at once; an OIDC session holds while OIDC stays
 * configured and the session has not expired.
 */
export function requireSession(ctx: ConsoleContext): RequestHandler {
  return passErrors(async (req: Request, res: Response, next: NextFunction) => {
    const now = ctx.now();
    const session = ctx.signer.open(parseCookies(req.headers.cookie).get(SESSION_COOKIE), now.getTime());
    const admin = session?.keyId != null ? await ctx.ak.getKey(session.keyId) : null;
    const human = session?.human && ctx.oidc ? session.human : null;
    if (!session || !(isAdmin(ctx, admin, now) || human)) {
      if (req.method === 'GET' || req.method === 'HEAD') return res.redirect(303, `${baseOf(req)}/signin`);
      return res.status(401).type('text').send('Sign in first.');
    }
    const csrf = ctx.signer.csrf(session);
    if (req.method !== 'GET' && req.method !== 'HEAD' && !ctx.signer.same(req.body?._csrf, csrf))
      return res.status(403).type('text').send('Missing or wrong CSRF token: reload the page and try again.');
    const key = isAdmin(ctx, admin, now) ? admin : null;
    const signed: SignedIn = {
      session,
      admin: key,
      actor: key ? actorOf(key) : humanActor(human!),
      frame: { base: baseOf(req), csrf, who: key ? key.name : (human!.email ?? human!.sub) },
    };
    res.locals.console = signed;
    next();
  });
}
