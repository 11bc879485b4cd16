import { type AgentKey, AgentKeyInputError } from '@agentkey/core';
import { type Request, type Response, Router } from 'express';
import { childKeyHandler } from './child-key.js';
import { agentKeyMiddleware } from './middleware.js';
import { revokeKeyHandler } from './revoke-key.js';
import { type AgentKeyRoutesOptions, resolveRoutesOptions } from './route-options.js';
import { signupHandler } from './signup.js';

/** The store calls the routes use. */
export type KeyStore = Pick<
  AgentKey,
  'create' | 'validate' | 'hasScope' | 'revoke' | 'update' | 'getKey' | 'getAccount' | 'rateLimitHit'
>;

/**
 * agentkey 0.2.0's self-serve routes: `POST /signup`, `GET /sdk-keys/me`, `POST /sdk-keys` and
 * `DELETE /sdk-keys/:id`, with signup capped and rate-limited. Reads `req.body` as parsed by the
 * app's `express.json()`; a body no parser read is a 400 naming it.
 */
export function createAgentKeyRoutes(ak: KeyStore, options: AgentKeyRoutesOptions = {}): Router {
  if (typeof ak?.create !== 'function' || typeof ak.validate !== 'function') {
    throw new AgentKeyInputError('createAgentKeyRoutes needs an AgentKey', 'ak');
  }
  const resolved = resolveRoutesOptions(options);
  const authenticated = agentKeyMiddleware(ak, { onError: resolved.onError });
  const router = Router();
  router.post('/signup', signupHandler(ak, resolved));
  router.get('/sdk-keys/me', authenticated, (req: Request, res: Response) => {
    res.json(req.agentKey);
  });
  router.post('/sdk-keys', authenticated, childKeyHandler(ak, resolved));
  router.delete('/sdk-keys/:id', authenticated, revokeKeyHandler(ak, resolved));
  return router;
}
