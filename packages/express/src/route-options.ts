import { AgentKeyInputError, isScope, MAX_BUDGET_CENTS, parseDuration } from '@agentkey/core';
import { isInputError } from './input-error.js';
import { type RateLimit, rateLimitOf } from './rate-limit.js';
import { consoleReporter, type ErrorReporter } from './report.js';

export interface AgentKeyRoutesOptions {
  /** Scopes a signup may ask for; omitted scopes get all of them. Default: none (`[]`). */
  signupScopes?: string[];
  /** Require an email (the key's account) on signup. Default true; false gives each anonymous signup its own account. */
  requireEmailForSignup?: boolean;
  /** Signups per client address: a number per hour, or `{ max, windowMs, maxClients? }`. Default 10 per hour. */
  signupRateLimit?: number | RateLimit;
  /** Largest `budget_cents` a signup may ask for, and what it gets when it asks for none. Default 100. */
  signupMaxBudgetCents?: number;
  /** Longest `expires_in` a signup may ask for. Default `'7d'`. Signup keys always expire. */
  signupMaxExpiresIn?: string;
  /** Expiry of a signup key that asks for none. Default `'24h'`. */
  signupDefaultExpiresIn?: string;
  /** The clock for rate limits and expiry comparisons; pass the store's own when you set one. */
  now?: () => Date;
  /** Called with unexpected failures (the store not answering). Default: console.error. */
  onError?: ErrorReporter;
}

export interface ResolvedRoutesOptions {
  signupScopes: readonly string[];
  requireEmailForSignup: boolean;
  signupRateLimit: Required<RateLimit>;
  signupMaxBudgetCents: number;
  signupMaxExpiresMs: number;
  signupDefaultExpiresIn: string;
  now: () => Date;
  onError: ErrorReporter;
}

/** Checks every option once, at construction, naming the one at fault. */
export function resolveRoutesOptions(options: AgentKeyRoutesOptions = {}): ResolvedRoutesOptions {
  const o = options ?? {};
  const signupScopes = o.signupScopes ?? [];
  if (!Array.isArray(signupScopes) || !signupScopes.every(isScope)) {
    throw new AgentKeyInputError('signupScopes must be an array of scope strings', 'signupScopes');
  }
  if (o.requireEmailForSignup !== undefined && typeof o.requireEmailForSignup !== 'boolean') {
    throw new AgentKeyInputError('requireEmailForSignup must be a boolean', 'requireEmailForSignup');
  }
  // null is refused, not defaulted: whoever passes it likely means "unlimited", which signup never is.
  const maxBudget = o.signupMaxBudgetCents === undefined ? 100 : o.signupMaxBudgetCents;
  if (!Number.isSafeInteger(maxBudget) || maxBudget < 0 || maxBudget > MAX_BUDGET_CENTS) {
    throw new AgentKeyInputError(
      `signupMaxBudgetCents must be a whole number of cents from 0 to ${MAX_BUDGET_CENTS}`,
      'signupMaxBudgetCents',
    );
  }
  const maxExpiresMs = durationOption(
    o.signupMaxExpiresIn === undefined ? '7d' : o.signupMaxExpiresIn,
    'signupMaxExpiresIn',
  );
  const defaultExpiresIn = o.signupDefaultExpiresIn === undefined ? '24h' : o.signupDefaultExpiresIn;
  if (durationOption(defaultExpiresIn, 'signupDefaultExpiresIn') > maxExpiresMs) {
    throw new AgentKeyInputError(
      'signupDefaultExpiresIn must not be longer than signupMaxExpiresIn',
      'signupDefaultExpiresIn',
    );
  }
  for (const name of ['now', 'onError'] as const) {
    if (o[name] !== undefined && typeof o[name] !== 'function') {
      throw new AgentKeyInputError(`${name} must be a function`, name);
    }
  }
  return {
    signupScopes: [...signupScopes],
    requireEmailForSignup: o.requireEmailForSignup ?? true,
    signupRateLimit: rateLimitOf(o.signupRateLimit, 10),
    signupMaxBudgetCents: maxBudget,
    signupMaxExpiresMs: maxExpiresMs,
    signupDefaultExpiresIn: defaultExpiresIn,
    now: o.now ?? (() => new Date()),
    onError: o.onError ?? consoleReporter,
  };
}

function durationOption(value: unknown, name: string): number {
  try {
    return parseDuration(value);
  } catch (error) {
    if (!isInputError(error)) throw error;
    throw new AgentKeyInputError(`${name}: ${error.message}`, name);
  }
}
