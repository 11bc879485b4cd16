import type { Access } from '@agentkey/access';
import type { AgentKey, KeyInfo, Queryable } from '@agentkey/core';
import type { Request, Response } from 'express';
import type { Frame } from './html/layout.js';
import type { OidcClient } from './oidc.js';
import type { Session, Signer } from './session.js';
import type { ConsoleTables } from './sql/names.js';

/** What every route of one console shares, built once by agentKeyConsole(). */
export interface ConsoleContext {
  ak: AgentKey;
  pool: Queryable;
  access: Access | null;
  t: ConsoleTables;
  signer: Signer;
  adminScope: string;
  /** OIDC sign-in, when configured. */
  oidc: OidcClient | null;
  sessionTtlMs: number;
  secureCookie: boolean | 'auto';
  now: () => Date;
}

/**
 * A signed-in request: the session, the admin key's row (null for an OIDC human), and how the
 * human is named in the logs.
 */
export interface SignedIn {
  session: Session;
  admin: KeyInfo | null;
  actor: string;
  frame: Frame;
}

export const signedIn = (res: Response): SignedIn => res.locals.console as SignedIn;

/** Where the console is mounted, as links must spell it (`/agentkey`, or '' at the root). */
export const baseOf = (req: Request) => req.baseUrl.replace(/\/$/, '');

export const SESSION_COOKIE = 'akc_session';
export const PRE_COOKIE = 'akc_pre';
/** The OIDC round trip's state, nonce and PKCE verifier, signed, for ten minutes. */
export const FLOW_COOKIE = 'akc_oidc';

/**
 * An async handler whose rejection reaches `next` (the console's 500): Express 5 does this itself,
 * Express 4 (a supported peer) would leave the rejection unhandled and the request unanswered.
 */
export function passErrors<Req, Res>(
  fn: (req: Req, res: Res, next: (error?: unknown) => void) => Promise<unknown>,
): (req: Req, res: Res, next: (error?: unknown) => void) => void {
  return (req, res, next) => {
    fn(req, res, next).catch(next);
  };
}
