import { type AgentKey, AgentKeyInputError } from '@agentkey/core';
import type { NextFunction, Request, Response } from 'express';
import { requestAuthorization } from './authorization-header.js';
import { bearerToken } from './bearer.js';
import { consoleReporter, type ErrorReporter, report } from './report.js';
import './request.js';

export interface AgentKeyMiddlewareOptions {
  /** A scope the key must hold (`admin` and unlimited keys hold every scope). */
  scope?: string;
  /** Called when the store fails (the caller then gets 500 `auth_unavailable`). Default: console.error. */
  onError?: ErrorReporter;
}

/** The store calls the middleware uses. */
export type KeyValidator = Pick<AgentKey, 'validate' | 'hasScope'>;

type Outcome = { ok: true } | { ok: false; status: number; body: Record<string, unknown> };

/**
 * agentkey 0.2.0's middleware: a valid `Authorization: Bearer <key>` (holding `scope`, when given)
 * sets `req.agentKey` and passes on; anything else is answered here. It always answers, on Express
 * 4 and 5: a store failure is 500 `{ error: 'auth_unavailable' }`, never a hang or a pass.
 */
export function agentKeyMiddleware(ak: KeyValidator, options: AgentKeyMiddlewareOptions = {}) {
  if (typeof ak?.validate !== 'function' || typeof ak.hasScope !== 'function') {
    throw new AgentKeyInputError('agentKeyMiddleware needs an AgentKey', 'ak');
  }
  const { scope, onError = consoleReporter } = options ?? {};
  if (scope !== undefined && (typeof scope !== 'string' || scope.length === 0)) {
    throw new AgentKeyInputError('scope must be a non-empty string', 'scope');
  }

  const authenticate = async (req: Request): Promise<Outcome> => {
    const header = requestAuthorization(req);
    // 0.2.0 never saw two lines (Node hid the second): refuse them with agentKeyAuth's code.
    if (!header.ok) {
      return {
        ok: false,
        status: 400,
        body: { error: header.error.code, error_description: header.error.description },
      };
    }
    const key = bearerToken(header.header);
    if (key === null) return { ok: false, status: 401, body: { error: 'Missing API key' } };
    const result = await ak.validate(key);
    if (!result.valid) {
      return {
        ok: false,
        status: result.reason === 'budget_exceeded' ? 429 : 401,
        body: { error: result.reason },
      };
    }
    if (scope !== undefined && !ak.hasScope(result, scope)) {
      return {
        ok: false,
        status: 403,
        body: { error: 'insufficient_scope', required: scope, available: result.scopes },
      };
    }
    req.agentKey = result;
    return { ok: true };
  };

  return (req: Request, res: Response, next: NextFunction): void => {
    authenticate(req)
      .then(
        (outcome) => {
          if (outcome.ok) next();
          else res.status(outcome.status).json(outcome.body);
        },
        (error: unknown) => {
          report(onError, error, 'agentKeyMiddleware');
          if (!res.headersSent) res.status(500).json({ error: 'auth_unavailable' });
        },
      )
      // Only reached if next() throws: keep it from becoming an unhandled rejection.
      .catch((error: unknown) => report(onError, error, 'agentKeyMiddleware'));
  };
}
