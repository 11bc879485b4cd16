import { checkBudget, checkPeriod } from './checks.js';
import { parsePositiveDuration } from './duration.js';
import { AgentKeyInputError } from './errors.js';
import { checkIdent, checkName, checkScopes } from './input.js';
import type { FirstSeenPolicy } from './verifier.js';

/** Every option a policy may have: anything else is a typo that would silently grant a default. */
const OPTIONS = new Set(['scopes', 'budgetCents', 'budgetPeriod', 'expiresIn', 'accountId', 'name']);
/** Zero access by default: a policy must say what it grants, `null` being an explicit "unlimited". */
const REQUIRED = ['scopes', 'budgetCents'] as const;

/**
 * Checks a first-sight policy where it is configured (the gate, each verifier's constructor), so a
 * bad one throws at start-up, not on some caller's first request. Errors name the option, e.g.
 * `firstSeen.scopes`. `validScopes` is the store's list, when the caller knows it.
 */
export function checkFirstSeenPolicy(
  policy: unknown,
  field = 'firstSeen',
  validScopes: ReadonlySet<string> | null = null,
): FirstSeenPolicy {
  if (!policy || typeof policy !== 'object' || Array.isArray(policy)) {
    throw new AgentKeyInputError(`${field} must be an object { scopes, budgetCents, … }`, field);
  }
  const p = policy as Record<string, unknown>;
  for (const name of Object.keys(p)) {
    if (!OPTIONS.has(name)) {
      throw new AgentKeyInputError(
        `${field}.${name} is not a first-sight option (${[...OPTIONS].join(', ')})`,
        `${field}.${name}`,
      );
    }
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
      check(p[name]);
    } catch (error) {
      throw new AgentKeyInputError(`${field}.${name}: ${(error as Error).message}`, `${field}.${name}`);
    }
  };
  option('scopes', (v) => checkScopes(v, validScopes));
  option('budgetCents', checkBudget);
  option('budgetPeriod', checkPeriod);
  option('expiresIn', (v) => v === null || v === undefined || parsePositiveDuration(v));
  option('name', (v) => v === undefined || checkName(v));
  option('accountId', (v) => {
    if (v !== undefined && typeof v !== 'function') checkIdent(v, 'accountId');
  });
  return policy as FirstSeenPolicy;
}
