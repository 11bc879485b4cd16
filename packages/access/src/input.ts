import { costToMicros, isScope } from '@agentkey/core';

/** What a field check answers: the value, or one clear message naming the field. */
export type Checked<T> = { ok: true; value: T } | { ok: false; message: string };

const ok = <T>(value: T): Checked<T> => ({ ok: true, value });
const bad = (message: string): Checked<never> => ({ ok: false, message });

/** A tool id: lower-case letters, digits, `_` and `-`, starting with a letter; 1-40 characters. */
export const TOOL_ID = /^[a-z][a-z0-9_-]{0,39}$/;
/** A tool action (the part of a permit slip after `tool:`), e.g. `repos.read`. */
const ACTION = /^[a-z][a-z0-9_.-]{0,63}$/;
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const MAX_TEXT = 500;
/** Seconds, minutes, hours or days, e.g. `10s`, `15m`, `7d`; at most 366 days. */
const TTL = /^(\d{1,7})(s|m|h|d)$/;
const UNIT_SEC = { s: 1, m: 60, h: 3600, d: 86_400 } as const;
const MAX_TTL_SEC = 366 * 86_400;
export const MAX_CENTS = 100_000_000;

export function checkToolId(value: unknown): Checked<string> {
  return typeof value === 'string' && TOOL_ID.test(value)
    ? ok(value)
    : bad('tool id must be 1-40 lower-case letters, digits, _ or -, starting with a letter');
}

/** Free text (a reason, a name): a non-empty string of at most 500 characters, trimmed. */
export function checkText(value: unknown, field: string, max = MAX_TEXT): Checked<string> {
  if (typeof value !== 'string' || value.trim() === '')
    return bad(`${field} is required (a non-empty string)`);
  if (value.length > max) return bad(`${field} must be at most ${max} characters`);
  return ok(value.trim());
}

/** A duration as seconds: `10s`, `5m`, `2h`, `7d` or a positive whole number of seconds. */
export function checkTtl(value: unknown, field = 'ttl'): Checked<number | null> {
  if (value === undefined || value === null) return ok(null);
  let sec: number | null = null;
  if (typeof value === 'number' && Number.isSafeInteger(value)) sec = value;
  if (typeof value === 'string') {
    const m = TTL.exec(value);
    if (m) sec = Number(m[1]) * UNIT_SEC[m[2] as keyof typeof UNIT_SEC];
  }
  if (sec === null || sec < 1 || sec > MAX_TTL_SEC) {
    return bad(`${field} must be a duration such as 10s, 15m, 2h or 7d (at least 1s, at most 366d)`);
  }
  return ok(sec);
}

/** Cents (fractional to 1e-4), zero or more. */
export function checkCents(value: unknown, field: string): Checked<number | null> {
  if (value === undefined || value === null) return ok(null);
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_CENTS) {
    return bad(`${field} must be a number of cents, 0 to ${MAX_CENTS}`);
  }
  if (Math.round(value * 10_000) / 10_000 !== value) return bad(`${field}: at most 4 decimals`);
  return ok(value);
}

export function checkScopesField(value: unknown): Checked<string[] | null> {
  if (value === undefined || value === null) return ok(null);
  if (!Array.isArray(value) || value.length > 32 || !value.every(isScope)) {
    return bad('scopes must be an array of at most 32 scope strings');
  }
  return ok([...new Set(value as string[])]);
}

export function checkMethods(value: unknown, field = 'methods'): Checked<string[]> {
  if (!Array.isArray(value) || value.length === 0)
    return bad(`${field} must be a non-empty array of HTTP methods`);
  const upper = value.map((m) => (typeof m === 'string' ? m.toUpperCase() : ''));
  if (!upper.every((m) => METHODS.has(m)))
    return bad(`${field}: each must be one of ${[...METHODS].join(', ')}`);
  return ok([...new Set(upper)]);
}

/** Path prefixes relative to the tool's base URL: each starts with `/`, no `..`, no `%`, no `\`. */
export function checkPrefixes(value: unknown, field = 'pathPrefixes'): Checked<string[]> {
  if (!Array.isArray(value) || value.length > 64) return bad(`${field} must be an array of paths`);
  const okPath = (p: unknown) =>
    typeof p === 'string' && p.startsWith('/') && p.length <= 256 && !/(^|\/)\.\.?(\/|$)|[%\\\s?#]/.test(p);
  if (!value.every(okPath)) return bad(`${field}: each must start with / and hold no .., %, \\, ? or #`);
  return ok(value as string[]);
}

/** An http(s) URL without credentials or fragment. */
export function checkUrl(value: unknown, field: string): Checked<string> {
  if (typeof value !== 'string' || value.length > 2048) return bad(`${field} must be an http(s) URL`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return bad(`${field} must be an http(s) URL`);
  }
  if (!['http:', 'https:'].includes(url.protocol) || url.username || url.password || url.hash) {
    return bad(`${field} must be an http(s) URL without credentials or fragment`);
  }
  return ok(url.toString());
}

/** `tool:action`, as a permit slip names what it may do: `github:repos.read`. */
export function checkPermitAction(value: unknown): Checked<{ toolId: string; action: string }> {
  const [toolId, action, extra] = typeof value === 'string' ? value.split(':') : [];
  if (extra !== undefined || !toolId || !TOOL_ID.test(toolId) || !action || !ACTION.test(action)) {
    return bad('action must be tool:action, e.g. github:repos.read');
  }
  return ok({ toolId, action });
}

export function checkActionName(value: string): boolean {
  return ACTION.test(value);
}

/** `{ requests, windowSec }` for a grant's own rate limit. */
export function checkRate(
  value: unknown,
  field = 'rateLimit',
): Checked<{ requests: number; windowSec: number } | null> {
  if (value === undefined || value === null) return ok(null);
  const v = value as { requests?: unknown; windowSec?: unknown };
  const requests = v?.requests;
  const windowSec = v?.windowSec ?? 60;
  const int = (n: unknown, max: number) =>
    typeof n === 'number' && Number.isSafeInteger(n) && n >= 1 && n <= max;
  if (!int(requests, 1_000_000) || !int(windowSec, 86_400)) {
    return bad(`${field} must be { requests: 1..1000000, windowSec?: 1..86400 }`);
  }
  return ok({ requests: requests as number, windowSec: windowSec as number });
}

/** Checked cents as the store's micros (1e-4 ¢), by core's one rule. */
export function toMicros(cents: number): number {
  const m = costToMicros(cents);
  if (!m.ok) throw new Error(`agentkey access: ${m.reason}`);
  return m.micros;
}
