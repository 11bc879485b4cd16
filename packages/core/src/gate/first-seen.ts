import { AgentKeyInputError } from '../errors/errors.js';
import { parsePositiveDuration } from '../input/duration.js';
import { checkBudget, checkPeriod } from '../input/options.js';
import { checkRateLimit } from '../input/rate-limit.js';
import { checkIdent, checkName, checkScopes } from '../input/values.js';
import type { FirstSeenPolicy } from './verifier.js';

/** Every option a policy may have: anything else is a typo that would silently grant a default. */
const OPTIONS = new Set([
  'scopes',
  'budgetCents',
  'budgetPeriod',
  'expiresIn',
  'accountId',
  'name',
  'rateLimit',
]);
/** Zero access by default: a policy must say what it grants, `null` being an explicit "unlimited". */
const REQUIRED = ['scopes', 'budgetCents'] as const;

/** A checked policy (a frozen copy), or the refusal naming the option. */
export type PolicyCheck = { ok: true; policy: FirstSeenPolicy } | { ok: false; error: AgentKeyInputError };

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
  const checked = readFirstSeenPolicy(policy, field, validScopes);
  if (!checked.ok) throw checked.error;
  return checked.policy;
}

/** As `checkFirstSeenPolicy`, the refusal returned rather than thrown. */
export function readFirstSeenPolicy(
  policy: unknown,
  field = 'firstSeen',
  validScopes: ReadonlySet<string> | null = null,
): PolicyCheck {
  const refused = (message: string, at: string): PolicyCheck => ({
    ok: false,
    error: new AgentKeyInputError(message, at),
  });
  if (!policy || typeof policy !== 'object' || Array.isArray(policy)) {
    return refused(`${field} must be an object { scopes, budgetCents, … }`, field);
  }
  const source = policy as Record<string, unknown>;
  const p: Record<string, unknown> = {};
  for (const name of Object.keys(source)) {
    if (!OPTIONS.has(name)) {
      return refused(
        `${field}.${name} is not a first-sight option (${[...OPTIONS].join(', ')})`,
        `${field}.${name}`,
      );
    }
    p[name] = source[name];
  }
  for (const name of REQUIRED) {
    if (p[name] === undefined) {
      return refused(
        `${field}.${name} is required: say what a new identity gets (null for unlimited)`,
        `${field}.${name}`,
      );
    }
  }
  // Copied before it is checked: the caller's array may change later (or differ between reads).
  if (Array.isArray(p.scopes)) p.scopes = [...p.scopes];
  let scopes: string[] | null = null;
  const checks: Array<[string, (value: unknown) => unknown]> = [
    ['scopes', (v) => (scopes = checkScopes(v, validScopes))],
    ['budgetCents', checkBudget],
    ['budgetPeriod', checkPeriod],
    ['expiresIn', (v) => v === null || v === undefined || parsePositiveDuration(v)],
    ['name', (v) => v === undefined || checkName(v)],
    ['accountId', (v) => v === undefined || typeof v === 'function' || checkIdent(v, 'accountId')],
    // Kept as checked (a copy): the caller's object may change later.
    [
      'rateLimit',
      (v) => {
        if (v !== undefined) p.rateLimit = checkRateLimit(v, 'rateLimit');
      },
    ],
  ];
  for (const [name, check] of checks) {
    const message = failure(() => check(p[name]));
    if (message !== null) return refused(`${field}.${name}: ${message}`, `${field}.${name}`);
  }
  const frozen = scopes === null ? null : Object.freeze(scopes);
  return { ok: true, policy: Object.freeze({ ...p, scopes: frozen }) as FirstSeenPolicy };
}

/** What a shared input check (they throw) says of a value, or null when it passes. */
function failure(check: () => unknown): string | null {
  try {
    check();
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}
