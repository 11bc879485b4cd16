import type { Request, Response, Router } from 'express';
import { cookie, humanActor, showSignin, startSession } from './auth.js';
import { baseOf, type ConsoleContext, FLOW_COOKIE, passErrors } from './context.js';
import { claimsAdmin } from './oidc.js';
import { signedInPage } from './pages/signin.js';
import { parseCookies } from './session.js';

const FLOW_TTL_SEC = 600;
const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/** The callback URL: as configured, else this console's own, from the request's host. */
function redirectUriOf(ctx: ConsoleContext, req: Request): string | null {
  const configured = ctx.oidc?.settings.redirectUri;
  if (configured) return configured;
  const host = req.get('host') ?? '';
  return HOST.test(host) ? `${req.protocol}://${host}${baseOf(req)}/oidc/callback` : null;
}

const why = (error: unknown) => (error instanceof Error ? error.message : String(error)).slice(0, 300);

/**
 * GET /oidc/login and GET /oidc/callback: the authorization code flow with PKCE, state and nonce.
 * The three secrets ride in an encrypted (AES-256-GCM), HttpOnly cookie for ten minutes and are used once. The
 * callback always lands on the console's overview: no return address is taken from the request,
 * so there is nothing to redirect elsewhere.
 */
export function mountOidc(ctx: ConsoleContext, router: Router): void {
  const oidc = ctx.oidc;
  if (!oidc) return;
  router.get(
    '/oidc/login',
    passErrors(async (req: Request, res: Response) => {
      const redirectUri = redirectUriOf(ctx, req);
      if (!redirectUri) return showSignin(ctx, req, res, 400, 'This request has no usable Host header.');
      let start: Awaited<ReturnType<typeof oidc.start>>;
      try {
        start = await oidc.start(redirectUri);
      } catch (error) {
        return showSignin(ctx, req, res, 502, `The sign-in provider could not be used: ${why(error)}`);
      }
      const flow = ctx.signer.encrypt(
        'oidc-flow',
        { s: start.state, n: start.nonce, v: start.verifier, r: redirectUri },
        ctx.now().getTime() + FLOW_TTL_SEC * 1000,
      );
      res.setHeader('Set-Cookie', cookie(ctx, req, FLOW_COOKIE, flow, FLOW_TTL_SEC, 'Lax'));
      res.redirect(303, start.url);
    }),
  );

  router.get(
    '/oidc/callback',
    passErrors(async (req: Request, res: Response) => {
      const now = ctx.now();
      const flow = ctx.signer.decrypt(
        'oidc-flow',
        parseCookies(req.headers.cookie).get(FLOW_COOKIE),
        now.getTime(),
      );
      // The round trip's cookie is spent either way.
      const refuse = (status: number, message: string) =>
        showSignin(ctx, req, res, status, message, [cookie(ctx, req, FLOW_COOKIE, '', 0, 'Lax')]);
      if (
        !flow ||
        typeof flow.s !== 'string' ||
        typeof flow.n !== 'string' ||
        typeof flow.v !== 'string' ||
        typeof flow.r !== 'string'
      )
        return refuse(400, 'This sign-in expired or was not started here: sign in again.');
      const window = await ctx.ak.rateLimitHit(`console:signin:${req.ip ?? 'unknown'}`, {
        requests: 20,
        windowSec: 60,
      });
      if (!window.ok) return refuse(429, 'Too many attempts; wait a minute.');
      if (typeof req.query.error === 'string')
        return refuse(401, `The provider did not sign you in (${req.query.error.slice(0, 100)}).`);
      const query = req.originalUrl.includes('?')
        ? req.originalUrl.slice(req.originalUrl.indexOf('?') + 1)
        : '';
      let claims: Awaited<ReturnType<typeof oidc.finish>>;
      try {
        claims = await oidc.finish(flow.r, query, { state: flow.s, nonce: flow.n, verifier: flow.v });
      } catch (error) {
        return refuse(401, `The provider's answer did not check out, so no one is signed in: ${why(error)}`);
      }
      const email = typeof claims.email === 'string' && claims.email.length <= 254 ? claims.email : null;
      const sub = claims.sub;
      if (typeof sub !== 'string' || sub === '' || sub.length > 255)
        return refuse(401, 'The ID token names no usable subject (sub).');
      if (!claimsAdmin(claims, oidc.settings.adminClaims, ctx.adminScope))
        return refuse(
          401,
          `${email ?? sub} is not a console admin: the ID token's ${oidc.settings.adminClaims.join(' / ')} must name ${ctx.adminScope}.`,
        );
      const human = { sub, email };
      await startSession(
        ctx,
        req,
        res,
        { human },
        { actor: humanActor(human), target: `oidc:${oidc.settings.issuer.href}` },
        [cookie(ctx, req, FLOW_COOKIE, '', 0, 'Lax')],
      );
      res
        .status(200)
        .type('html')
        .send(signedInPage(baseOf(req), email ?? sub).text);
    }),
  );
}
