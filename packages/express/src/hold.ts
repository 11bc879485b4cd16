import { type AgentKey, AgentKeyInputError, costToMicros, type Hold } from '@agentkey/core';
import type { Response } from 'express';
import { describeValue } from './cost.js';
import { type ErrorReporter, report } from './report.js';

/** Where a handler puts the actual cost of a held request, in cents. */
export const COST_LOCAL = 'agentKeyCostCents';

/**
 * Closes a request's hold exactly once, when the response ends:
 * - a valid cost in `res.locals.agentKeyCostCents` → settle it, whatever the status and whether
 *   the client stayed (the handler says the work was done);
 * - an invalid one → settle the whole hold and report it to `onError` (never free, never left open);
 * - none, response finished below 400 → settle the whole hold (an undeclared cost is never free);
 * - none, finished at 400 or above (the handler failed or refused), or the client went away
 *   before the response finished → release.
 * Returns false, having released the hold, if the client is already gone: do not run the handler.
 */
export function closeHoldWhenDone(
  res: Response,
  hold: Hold,
  ak: Pick<AgentKey, 'settle' | 'release'>,
  onError: ErrorReporter,
): boolean {
  let closed = false;
  const close = (finished: boolean) => {
    if (closed) return;
    closed = true;
    const cost = costOf(res, finished, hold, onError);
    // async: a store that throws synchronously is reported like one that rejects.
    (async () => (cost === undefined ? ak.release(hold.id) : ak.settle(hold.id, { costCents: cost })))().then(
      (result) => {
        if (!result.ok)
          report(onError, new Error(`hold ${hold.id}: ${result.error.description}`), 'agentKeyAuth hold');
      },
      (error: unknown) => report(onError, error, 'agentKeyAuth hold'),
    );
  };
  // The reserve may resolve after the client hung up: 'close' has fired already and will not again.
  if (res.destroyed || res.socket?.destroyed) {
    close(false);
    return false;
  }
  res.once('finish', () => close(true));
  // A handler writing to a destroyed socket never emits 'finish'; 'close' always comes.
  res.once('close', () => close(res.writableFinished));
  return true;
}

/** Cents to settle, or undefined to release. */
function costOf(res: Response, finished: boolean, hold: Hold, onError: ErrorReporter): number | undefined {
  const declared = res.locals[COST_LOCAL] as unknown;
  if (declared === undefined) return finished && res.statusCode < 400 ? hold.amountCents : undefined;
  const check = costToMicros(declared);
  if (check.ok) return declared as number;
  const message = `res.locals.${COST_LOCAL} is ${describeValue(declared)}: ${check.reason}; settled the whole hold`;
  report(onError, new AgentKeyInputError(message, COST_LOCAL), 'agentKeyAuth hold');
  return hold.amountCents;
}
