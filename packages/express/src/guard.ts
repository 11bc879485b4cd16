import type { Request, Response } from 'express';
import { isInputError } from './input-error.js';
import { type ErrorReporter, report } from './report.js';

/**
 * Runs an async route handler so that it always answers. Express 4 ignores a rejected promise
 * (the request would hang), so every failure is caught here: core's input errors answer 400 with
 * their message, anything else is reported and answers 500 with `failure`.
 */
export function guard(
  context: string,
  failure: string,
  onError: ErrorReporter,
  handler: (req: Request, res: Response) => Promise<void>,
): (req: Request, res: Response) => void {
  const fail = (res: Response, error: unknown) => {
    if (!res.headersSent && isInputError(error)) {
      res.status(400).json({ error: error.message });
      return;
    }
    report(onError, error, context);
    if (!res.headersSent) res.status(500).json({ error: failure });
  };
  return (req, res) => {
    handler(req, res).catch((error: unknown) => fail(res, error));
  };
}
