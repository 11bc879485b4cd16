import { budgetRules, LUA } from './dialect.js';
import { rateRules } from './rate-model.js';

/**
 * The budget rules as Lua functions for the Redis admission script (@agentkey/redis), rendered
 * from the same source as the SQL ones (budget/dialect.ts): the script calls these and spells no
 * rule itself. NULL is nil; scopes are a Lua table (nil: unlimited).
 */
export function luaBudgetRules(): string {
  const r = budgetRules(LUA);
  const rate = rateRules(LUA);
  const fn = (name: string, args: string, body: string) => `local function ${name}(${args})
  return ${body}
end`;
  return [
    '-- Budget rules (rendered from @agentkey/core budget/dialect.ts, as the SQL ones are).',
    'local function ak_member(list, x)',
    '  for _, v in ipairs(list) do if v == x then return true end end',
    '  return false',
    'end',
    fn('ak_unexpired', 'expires, now', r.unexpired('expires', 'now')),
    fn('ak_elapsed', 'reset, now', r.elapsed('reset', 'now')),
    fn('ak_cents_up', 'micros', r.centsUp('micros')),
    fn('ak_cents_of', 'micros', r.centsOf('micros')),
    fn('ak_cap_micros', 'cents', r.capMicros('cents')),
    fn('ak_stored_used', 'micros, cents', r.storedUsed('micros', 'cents')),
    fn('ak_used_now', 'micros, cents, reset, now', r.usedNow('micros', 'cents', 'reset', 'now')),
    fn('ak_cap_fits', 'cap, taken, need', r.capFits('cap', 'taken', 'need')),
    fn('ak_cap_holds', 'cap, total', r.capHolds('cap', 'total')),
    fn('ak_scope_ok', 'scope, scopes', r.scopeOk('scope', 'scopes')),
    '-- Rate-limit rules (rendered from @agentkey/core budget/rate-model.ts, as the SQL ones are).',
    fn('ak_rate_start', 'at, sec, now', rate.start('at', 'sec', 'now')),
    fn('ak_rate_now', 'value, at, sec, now', rate.current('value', 'at', 'sec', 'now')),
    fn(
      'ak_rate_refusal',
      'requests, cents, sec, at, count, micros, now, need',
      rate.refusal('requests', 'cents', 'sec', 'at', 'count', 'micros', 'now', 'need'),
    ),
    fn(
      'ak_rate_remaining',
      'kind, requests, cents, count, micros, at, sec, now',
      rate.remaining('kind', 'requests', 'cents', 'count', 'micros', 'at', 'sec', 'now'),
    ),
    fn('ak_rate_kind', 'requests', rate.kind('requests')),
    fn('ak_rate_count_after', 'count, at, sec, now', rate.countAfter('count', 'at', 'sec', 'now')),
    fn(
      'ak_rate_micros_after',
      'micros, at, sec, now, need',
      rate.microsAfter('micros', 'at', 'sec', 'now', 'need'),
    ),
    fn('ak_rate_reset_sec', 'at, sec, now', rate.resetSec('at', 'sec', 'now')),
  ].join('\n');
}
