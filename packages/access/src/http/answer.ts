import { AgentKeyInputError, type Credential } from '@agentkey/core';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Caller } from '../caller.js';
import { ACCESS_CODES, type AccessRefusal } from '../errors.js';

export type ErrorReporter = (error: unknown, context: string) => void;

/** Writes a refusal as `{ error, error_description }` with its status (and Retry-After for 429s). */
export function sendRefusal(
  res: Response,
  r: Pick<AccessRefusal, 'code' | 'message' | 'retryAfterSec'>,
): void {
  if (res.headersSent) return;
  if (r.retryAfterSec !== undefined) res.set('Retry-After', String(Math.max(1, Math.ceil(r.retryAfterSec))));
  res.status(ACCESS_CODES[r.code]).json({ error: r.code, error_description: r.message });
}

/**
 * The caller the auth middleware proved (`req.agentKey`, as `agentKeyAuth` of @agentkey/express sets
 * it), or null when the app mounted the routes without one.
 */
export function callerOf(req: Request): Caller | null {
  const p = (req as Request & { agentKey?: Record<string, unknown> }).agentKey;
  if (!p || (p.kind !== 'key' && p.kind !== 'subject') || typeof p.id !== 'number') return null;
  return {
    kind: p.kind,
    id: p.id,
    subject: (p.subject as string | null) ?? null,
    accountId: String(p.accountId),
    scopes: (p.scopes as string[] | null) ?? null,
    expiresAt: p.expiresAt ? new Date(p.expiresAt as string) : null,
  };
}

/**
 * What the store charges: a native key by the key the request carried (already proved by the auth
 * middleware), an external caller by its subject.
 */
export function credentialOf(req: Request, caller: Caller): Credential | null {
  if (caller.kind === 'subject' && caller.subject) return { subject: caller.subject };
  const m = /^Bearer +(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return m ? { key: m[1]! } : null;
}

/**
 * A route handler that always answers: a bad admin argument the store throws for is a 400, anything
 * else a 500 reported to `onError` (our errors never carry secrets).
 */
export function guard(
  name: string,
  onError: ErrorReporter,
  fn: (req: Request, res: Response, caller: Caller) => Promise<void>,
  who: (req: Request) => Caller | null = callerOf,
): RequestHandler {
  return (req: Request, res: Response, _next: NextFunction) => {
    const caller = who(req);
    if (!caller) {
      onError(new Error('access routes: no req.agentKey; mount agentKeyAuth before them'), name);
      res.status(500).json({ error: 'server_error', error_description: 'authentication is not configured' });
      return;
    }
    fn(req, res, caller).catch((error: unknown) => {
      if (error instanceof AgentKeyInputError) {
        sendRefusal(res, { code: 'bad_request', message: error.message });
        return;
      }
      onError(error, name);
      if (!res.headersSent)
        res.status(500).json({ error: 'server_error', error_description: 'internal error' });
    });
  };
}
