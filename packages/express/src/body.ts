import { type BudgetPeriod, isScope, MAX_BUDGET_CENTS, PERIODS, parseDuration } from '@agentkey/core';
import { isInputError, quote } from './input-error.js';

/** A field read from a JSON body: its value (undefined when absent or null), or why it is refused. */
export type Read<T> = { ok: true; value: T | undefined } | { ok: false; error: string };

const MAX_SCOPES = 256;

export const UNPARSED_BODY =
  'The request body was not parsed: send it with Content-Type: application/json, and mount app.use(express.json()) before the agentkey routes';

/** `application/json` or a `+json` type, parameters aside: what `express.json()` reads by default. */
const JSON_TYPE = /^application\/(?:[^/;\s]+\+)?json\s*(?:;|$)/i;

/**
 * True when the request carries a body that no JSON parser read into `req.body`: no
 * `express.json()` mounted, or a Content-Type it skips (`fetch` with a string body sends
 * text/plain). Express 4's parser then still sets `req.body = {}`, so the Content-Type decides,
 * not `req.body`. Read as `{}`, such a body would get answers about missing fields (a 403
 * "budget_cents is required", a default signup key) instead of the real fault.
 */
export function bodyUnparsed(req: {
  body?: unknown;
  headers: Record<string, string | string[] | undefined>;
}) {
  const length = Number(req.headers['content-length']);
  if (req.headers['transfer-encoding'] === undefined && !(length > 0)) return false;
  const type = req.headers['content-type'];
  return req.body === undefined || typeof type !== 'string' || !JSON_TYPE.test(type);
}

/**
 * The request body as an object. A request without a body leaves `req.body` undefined (Express 5's
 * parser does not set it then): that reads as `{}`, so a route with nothing to read still works.
 * Arrays, strings and the like are refused.
 */
export function bodyObject(body: unknown): Record<string, unknown> | null {
  if (body === undefined) return {};
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return null;
  return body as Record<string, unknown>;
}

const absent = (value: unknown) => value === undefined || value === null;

export function readScopes(value: unknown): Read<string[]> {
  if (absent(value)) return { ok: true, value: undefined };
  if (!Array.isArray(value)) return { ok: false, error: 'scopes must be an array of strings' };
  if (value.length > MAX_SCOPES) return { ok: false, error: `scopes: at most ${MAX_SCOPES} scopes` };
  const malformed = value.filter((s) => !isScope(s));
  if (malformed.length > 0) {
    return { ok: false, error: `Invalid scopes: ${malformed.slice(0, 5).map(quote).join(', ')}` };
  }
  return { ok: true, value: [...new Set(value as string[])] };
}

export function readCents(value: unknown, field: string): Read<number> {
  if (absent(value)) return { ok: true, value: undefined };
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > MAX_BUDGET_CENTS) {
    return { ok: false, error: `${field} must be a whole number of cents from 0 to ${MAX_BUDGET_CENTS}` };
  }
  return { ok: true, value };
}

export function readPeriod(value: unknown): Read<BudgetPeriod> {
  if (absent(value)) return { ok: true, value: undefined };
  if (!PERIODS.includes(value as BudgetPeriod)) {
    return { ok: false, error: `Invalid budget period: ${quote(value)}` };
  }
  return { ok: true, value: value as BudgetPeriod };
}

export interface Duration {
  text: string;
  ms: number;
}

/** `<digits><m|h|d|mo>`, as core's `expiresIn`. */
export function readDuration(value: unknown): Read<Duration> {
  if (absent(value)) return { ok: true, value: undefined };
  try {
    return { ok: true, value: { text: value as string, ms: parseDuration(value) } };
  } catch (error) {
    if (isInputError(error)) return { ok: false, error: `Invalid duration: ${quote(value)}` };
    throw error;
  }
}

/**
 * An email as an account id: the HTML form rule (no quoted local parts), ASCII, at most 254 characters.
 * It rules out spaces, control characters and most SQL punctuation (`;`, `(`, `"`), not the `'` RFC 5322 allows.
 */
const EMAIL =
  /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export function readEmail(value: unknown): Read<string> {
  if (absent(value)) return { ok: true, value: undefined };
  if (typeof value !== 'string' || value.length > 254 || !EMAIL.test(value)) {
    return { ok: false, error: 'Valid email is required' };
  }
  return { ok: true, value };
}
