import type { AgentKey, Hold } from '@agentkey/core';
import type { Response } from 'express';
import { type ErrorReporter, report } from './report.js';

/** Where a handler puts the actual cost of a held request, in cents. */
export const COST_LOCAL = 'agentKeyCostCents';

/**
 * Closes a request's hold exactly once, when the response ends:
 * - finished with a cost in `res.locals.agentKeyCostCents` → settle that cost;
 * - finished without one → settle the whole hold (an undeclared cost is never free), unless the
 *   handler failed (status ≥ 500), which releases it;
 * - the client went away before the response finished → settle a declared cost (the work was
 *   done), else release the hold.
 */
export function closeHoldWhenDone(
  res: Response,
  hold: Hold,
  ak: Pick<AgentKey, 'settle' | 'release'>,
  onError: ErrorReporter,
): void {
  let closed = false;
  const close = (finished: boolean) => {
    if (closed) return;
    closed = true;
    const declared = res.locals[COST_LOCAL] as unknown;
    const failed = finished && res.statusCode >= 500;
    const cost = declared !== undefined ? declared : finished && !failed ? hold.amountCents : undefined;
    const done = cost === undefined ? ak.release(hold.id) : ak.settle(hold.id, { costCents: cost as number });
    done.then(
      (result) => {
        if (!result.ok)
          report(onError, new Error(`hold ${hold.id}: ${result.error.description}`), 'agentKeyAuth hold');
      },
      (error: unknown) => report(onError, error, 'agentKeyAuth hold'),
    );
  };
  res.once('finish', () => close(true));
  res.once('close', () => close(res.writableFinished));
}
