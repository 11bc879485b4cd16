import type { ValidateResult } from '@agentkey/core';
import type { Request } from 'express';
import type { AgentKeyPrincipal } from './principal.js';

declare global {
  namespace Express {
    interface Request {
      /**
       * Who is calling, once a middleware let the request through:
       * - `agentKeyMiddleware` (the 0.2.0 drop-in) sets the key's validate result, `valid: true`;
       * - `agentKeyAuth` sets an `AgentKeyPrincipal`, which has `kind` (`'key'` | `'subject'`).
       * Fields both carry (`id`, `accountId`, `userId`, `name`, `scopes`, `delegatedBy`) read
       * without narrowing; for the rest narrow with `isAgentKeyPrincipal(req.agentKey)`, or type the
       * handler's request as `AgentKeyRequest` / `AgentKeyAuthRequest`.
       */
      agentKey?: ValidateResult | AgentKeyPrincipal;
    }
  }
}

/** A request that passed `agentKeyMiddleware`. */
export type AgentKeyRequest = Request & { agentKey: ValidateResult };

/** A request that passed `agentKeyAuth`. */
export type AgentKeyAuthRequest = Request & { agentKey: AgentKeyPrincipal };
