/**
 * Every expected refusal of @agentkey/access, with its HTTP status, defined once: the store returns
 * results carrying a code from this table and the routes turn them into answers.
 */
export const ACCESS_CODES = {
  bad_request: 400,
  invalid_token: 401,
  unknown_tool: 404,
  unknown_request: 404,
  not_pending: 409,
  already_pending: 409,
  already_granted: 409,
  no_grant: 403,
  not_admin: 403,
  self_approval: 403,
  permit_only_proxy: 403,
  not_permitted: 403,
  budget_exceeded: 429,
  rate_limited: 429,
  no_secret: 409,
  secret_key_unknown: 500,
  secret_tampered: 500,
  unavailable: 503,
} as const;

export type AccessCode = keyof typeof ACCESS_CODES;

export interface AccessRefusal {
  ok: false;
  code: AccessCode;
  message: string;
  /** Seconds until a rate window resets or a budget period ends, for 429s. */
  retryAfterSec?: number;
}

export type AccessResult<T> = ({ ok: true } & T) | AccessRefusal;

export function refuse(code: AccessCode, message: string, retryAfterSec?: number): AccessRefusal {
  return retryAfterSec === undefined
    ? { ok: false, code, message }
    : { ok: false, code, message, retryAfterSec };
}

/** Misconfiguration found at construction (a bad option): thrown, naming the option. */
export class AccessConfigError extends Error {
  override readonly name = 'AccessConfigError';
  constructor(
    message: string,
    readonly option: string,
  ) {
    super(message);
  }
}
