import { ADMIN_SCOPE as ADMIN } from '../input/values.js';
import { MAX_BUDGET_CENTS, MICROS_PER_CENT } from './money.js';

/**
 * A tiny expression model: the operators the budget rules are made of, rendered to one language.
 * The rules are written once, over a dialect (`budgetRules`); `SQL` renders them into the
 * statements and engine functions (sql/rules.ts), `LUA` into the Redis admission script
 * (@agentkey/redis), so the two can never disagree. Every operator takes rendered operands.
 */
export interface Dialect {
  isNull(x: string): string;
  notNull(x: string): string;
  /** Any of the conditions, parenthesized. */
  any(...xs: string[]): string;
  /** Both conditions, parenthesized. */
  both(a: string, b: string): string;
  /** Both conditions, bare (a CASE condition). */
  bare(a: string, b: string): string;
  le(a: string, b: string): string;
  lt(a: string, b: string): string;
  gt(a: string, b: string): string;
  eq(a: string, b: string): string;
  add(a: string, b: string): string;
  paren(a: string): string;
  /** Whole-number division (both operands non-negative). */
  div(a: string, b: string): string;
  times(a: string, b: string): string;
  /** As a 64-bit integer (SQL) or a number (Lua: doubles, exact below 2^53). */
  bigint(a: string): string;
  int(a: string): string;
  least(a: string, b: string): string;
  /** `x`, or 0 when null. */
  orZero(x: string): string;
  zero: string;
  /** `a` when `cond`, else `b` (`a` is never null). */
  when(cond: string, a: string, b: string): string;
  /** `x` is one of `list`. */
  member(x: string, list: string): string;
  text(s: string): string;
  /** The rate rules' (budget/rate-model.ts): */
  null: string;
  sub(a: string, b: string): string;
  greatest(a: string, b: string): string;
  ceil(a: string): string;
  float(a: string): string;
  /** `now` − `at` (timestamps: SQL timestamptz, Lua epoch ms) is at least `sec` seconds. */
  pastSec(now: string, at: string, sec: string): string;
  /** Seconds from `at` to `now`. */
  secondsSince(now: string, at: string): string;
  /** The first branch's value whose condition holds, else `otherwise` (NULL when absent). */
  cases(branches: Array<[string, string]>, otherwise?: string): string;
}

export const SQL: Dialect = {
  isNull: (x) => `${x} IS NULL`,
  notNull: (x) => `${x} IS NOT NULL`,
  any: (...xs) => `(${xs.join(' OR ')})`,
  both: (a, b) => `(${a} AND ${b})`,
  bare: (a, b) => `${a} AND ${b}`,
  le: (a, b) => `${a} <= ${b}`,
  lt: (a, b) => `${a} < ${b}`,
  gt: (a, b) => `${a} > ${b}`,
  eq: (a, b) => `${a} = ${b}`,
  add: (a, b) => `${a} + ${b}`,
  paren: (a) => `(${a})`,
  div: (a, b) => `${a} / ${b}`,
  times: (a, b) => `(${a} * ${b})`,
  bigint: (a) => `${a}::bigint`,
  int: (a) => `${a}::int`,
  least: (a, b) => `LEAST(${a}, ${b})`,
  orZero: (x) => `COALESCE(${x}, 0)`,
  zero: '0::bigint',
  when: (cond, a, b) => `(CASE WHEN ${cond} THEN ${a} ELSE ${b} END)`,
  member: (x, list) => `${x} = ANY(${list})`,
  text: (s) => `'${s.replace(/'/g, "''")}'`,
  null: 'NULL',
  sub: (a, b) => `${a} - ${b}`,
  greatest: (a, b) => `GREATEST(${a}, ${b})`,
  ceil: (a) => `ceil(${a})`,
  float: (a) => `${a}::float8`,
  pastSec: (now, at, sec) => `${now} - ${at} >= make_interval(secs => ${sec})`,
  secondsSince: (now, at) => `extract(epoch FROM (${now} - ${at}))`,
  cases: (branches, otherwise) =>
    `(CASE ${branches.map(([c, v]) => `WHEN ${c} THEN ${v}`).join('\n    ')}${
      otherwise === undefined ? '\n  END)' : `\n    ELSE ${otherwise} END)`
    }`,
};

/** Lua 5.1 as Redis runs it: nil for NULL, numbers are doubles, `ak_member` is the script's. */
export const LUA: Dialect = {
  isNull: (x) => `(${x} == nil)`,
  notNull: (x) => `(${x} ~= nil)`,
  any: (...xs) => `(${xs.join(' or ')})`,
  both: (a, b) => `(${a} and ${b})`,
  bare: (a, b) => `(${a} and ${b})`,
  le: (a, b) => `(${a} <= ${b})`,
  lt: (a, b) => `(${a} < ${b})`,
  gt: (a, b) => `(${a} > ${b})`,
  eq: (a, b) => `(${a} == ${b})`,
  add: (a, b) => `(${a} + ${b})`,
  paren: (a) => `(${a})`,
  div: (a, b) => `math.floor(${a} / ${b})`,
  times: (a, b) => `(${a} * ${b})`,
  bigint: (a) => a,
  int: (a) => a,
  least: (a, b) => `math.min(${a}, ${b})`,
  orZero: (x) => `(${x} or 0)`,
  zero: '0',
  when: (cond, a, b) => `(${cond} and ${a} or ${b})`,
  member: (x, list) => `ak_member(${list}, ${x})`,
  text: (s) => JSON.stringify(s),
  null: 'nil',
  sub: (a, b) => `(${a} - ${b})`,
  greatest: (a, b) => `math.max(${a}, ${b})`,
  ceil: (a) => `math.ceil(${a})`,
  float: (a) => a,
  pastSec: (now, at, sec) => `(${now} - ${at} >= ${sec} * 1000)`,
  secondsSince: (now, at) => `((${now} - ${at}) / 1000)`,
  cases: (branches, otherwise) =>
    `(function() ${branches.map(([c, v]) => `if ${c} then return ${v} end`).join(' ')} return ${otherwise ?? 'nil'} end)()`,
};

/** The budget rules, once, over a dialect. Arguments are expressions of that dialect. */
export function budgetRules(d: Dialect) {
  /** `money.ts` owns the unit: micros in a cent, and the INTEGER cents columns' bound. */
  const PER_CENT = `${MICROS_PER_CENT}`;
  const ROUND_UP = `${MICROS_PER_CENT - 1}`;
  const elapsed = (resetAt: string, now: string) => d.both(d.notNull(resetAt), d.le(resetAt, now));
  const centsUp = (micros: string) => d.div(d.paren(d.add(micros, ROUND_UP)), PER_CENT);
  const centsOf = (micros: string) => d.int(d.least(centsUp(micros), `${MAX_BUDGET_CENTS}`));
  const capMicros = (cents: string) => d.times(d.bigint(cents), PER_CENT);
  const storedUsed = (micros: string, cents: string) =>
    d.when(
      d.bare(d.notNull(micros), d.eq(centsUp(micros), d.orZero(cents))),
      micros,
      capMicros(d.orZero(cents)),
    );
  const usedNow = (micros: string, cents: string, resetAt: string, now: string) =>
    d.when(elapsed(resetAt, now), d.zero, storedUsed(micros, cents));
  const capFits = (cap: string, taken: string, need: string) =>
    d.any(d.isNull(cap), d.both(d.le(d.add(taken, need), capMicros(cap)), d.lt(taken, capMicros(cap))));
  const capHolds = (cap: string, total: string) => d.any(d.isNull(cap), d.le(total, capMicros(cap)));
  const ADMIN_SCOPE = d.text(ADMIN);
  const scopeOk = (scope: string, scopes: string) =>
    d.any(d.isNull(scope), d.isNull(scopes), d.member(scope, scopes), d.member(ADMIN_SCOPE, scopes));
  /** Not past an expiry of `expiresAt` (NULL: none) at `now`. */
  const unexpired = (expiresAt: string, now: string) => d.any(d.isNull(expiresAt), d.gt(expiresAt, now));
  /** Not revoked (`revokedAt` NULL) and not expired. */
  const live = (revokedAt: string, expiresAt: string, now: string) =>
    d.both(d.isNull(revokedAt), unexpired(expiresAt, now));
  return {
    ADMIN_SCOPE,
    unexpired,
    live,
    elapsed,
    centsUp,
    centsOf,
    capMicros,
    storedUsed,
    usedNow,
    capFits,
    capHolds,
    scopeOk,
  };
}
