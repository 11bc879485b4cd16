import { PRELUDE } from './script.js';

/**
 * PostgreSQL failed or timed out: the call may still commit. ARGV as SETTLE's 1-5. The
 * reservation goes, and so does the trust in the three mirrors: rebuilt on their next call.
 */
export const ABANDON = `${PRELUDE}
local member = ARGV[1] .. ':' .. ARGV[2]
local need = tonumber(ARGV[2])
ak_release(KEYS[1], KEYS[2], member .. ':' .. ARGV[3], need, ARGV[3])
ak_release(KEYS[3], KEYS[4], member .. ':' .. ARGV[4], need, ARGV[4])
ak_release(KEYS[5], KEYS[6], member .. ':' .. ARGV[5], need, ARGV[5])
for _, key in ipairs({KEYS[1], KEYS[3], KEYS[5]}) do
  if redis.call('EXISTS', key) == 1 then redis.call('HSET', key, 'lease', '0') end
end
return 1
`;

/**
 * An admin change: every mirror of the tag (the account) is of an old generation now. A generation
 * key new (the first, or one lost: evicted, expired) starts a new epoch (Redis's clock, µs), so a
 * count that restarts never re-trusts a mirror of the old epoch.
 */
export const INVALIDATE = `local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], 86400000)
local e = KEYS[1] .. 'e'
if n == 1 or redis.call('EXISTS', e) == 0 then
  local t = redis.call('TIME')
  redis.call('SET', e, t[1] .. string.format('%06d', tonumber(t[2])))
end
redis.call('PEXPIRE', e, 86400000)
return 1
`;
