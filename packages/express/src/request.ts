import type { ValidateResult } from '@agentkey/core';
import type { Request } from 'express';

declare global {
  namespace Express {
    interface Request {
      /**
       * Set by `agentKeyMiddleware`: the calling key's validate result, as in agentkey 0.2.0.
       * Its type stays exactly that; richer gates add their own property next to it rather than
       * widening this one, so code written against 0.2.0 keeps type-checking.
       */
      agentKey?: ValidateResult;
    }
  }
}

/** A request that passed `agentKeyMiddleware`. */
export type AgentKeyRequest = Request & { agentKey: ValidateResult };
