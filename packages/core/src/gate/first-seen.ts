import { AgentKeyInputError } from '../errors/errors.js';
import { parsePositiveDuration } from '../input/duration.js';
import { checkBudget, checkPeriod } from '../input/options.js';
import { checkIdent, checkName, checkScopes } from '../input/values.js';
import type { FirstSeenPolicy } from './verifier.js';

/** Every option a policy may have: anything else is a typo that would silently grant a default. */
const OPTIONS = new Set(['scopes', 'budgetCents', 'budgetPeriod', 'expiresIn', 'accountId', 'name']);
/** Zero access by default: a policy must say what it grants, `null` being an explicit "unlimited". */
const REQUIRED = ['scopes', 'budgetCents'] as const;

/**
 * Checks a first-sight policy where it is configured (the gate, each verifier's constructor), so a
 * bad one throws at start-up, not on some caller's first request. Errors name the option, e.g.
 * `firstSeen.scopes`. `validScopes` is the store's list, when the caller knows it.
 *
 * Returns a frozen copy, each option read once: the checks bind what is used, so a policy object
 * changed later (a deleted field, a getter, a mutated `expiresIn`) cannot grant more than was
 * checked. Callers keep and use only the copy. An `accountId` function is kept; its result is
 * checked where it is used (the gate).
 */
export function checkFirstSeenPolicy(
  policy: unknown,
  field = 'firstSeen',
  validScopes: ReadonlySet<string> | null = null,
): FirstSeenPolicy {
  if (!policy || typeof policy !== 'object' || Array.isArray(policy)) {
    throw new AgentKeyInputError(`${field} must be an object { scopes, budgetCents, … }`, field);
  }
  const source = policy as Record<string, unknown>;
  const p: Record<string, unknown> = {};
  for (const name of Object.keys(source)) {
    if (!OPTIONS.has(name)) {
      throw new AgentKeyInputError(
        `${field}.${name} is not a first-sight option (${[...OPTIONS].join(', ')})`,
        `${field}.${name}`,
      );
    }
    p[name] = source[name];
  }
  for (const name of REQUIRED) {
    if (p[name] === undefined) {
      throw new AgentKeyInputError(
        `${field}.${name} is required: say what a new identity gets (null for unlimited)`,
        `${field}.${name}`,
      );
    }
  }
  const option = (name: string, check: (value: unknown) => unknown) => {
    try {
      return check(p[name]);
    } catch (error) {
      throw new AgentKeyInputError(`${field}.${name}: ${(error as Error).message}`, `${field}.${name}`);
    }
  };
  // Copied before it is checked: the caller's array may change later (or differ between reads).
  if (Array.isArray(p.scopes)) p.scopes = [...p.scopes];
  const scopes = option('scopes', (v) => checkScopes(v, validScopes)) as string[] | null;
  option('budgetCents', checkBudget);
  option('budgetPeriod', checkPeriod);
  option('expiresIn', (v) => v === null || v === undefined || parsePositiveDuration(v));
  option('name', (v) => v === undefined || checkName(v));
  option('accountId', (v) => {
    if (v !== undefined && typeof v !== 'function') checkIdent(v, 'accountId');
  });
  return Object.freeze({
    ...p,
    scopes: scopes === null ? null : Object.freeze(scopes),
  }) as FirstSeenPolicy;
}
