import { luaBudgetRules } from '@agentkey/core';

/**
 * The counter's Lua, rendered once per process. Every budget rule comes from @agentkey/core's one
 * source (`luaBudgetRules`, the same one the SQL is rendered from): this file spells none.
 *
 * Keys of one call, all under the account's hash tag (one slot, so one script on a Cluster):
 *   1 key mirror, 2 its in-flight set, 3 pool parent mirror, 4 its set, 5 account mirror, 6 its set,
 *   7 the tag's generation.
 * A mirror is a hash: `run` (the Redis node's run_id when built), `g` (the tag's generation), `ge`
 * (the generation's epoch: KEYS[7] .. 'e', same tag, so same slot; new whenever the generation key is),
 * `bt` (built at, Redis ms), `lease` (trusted until, Redis ms), `b` (build serial), the numbers
 * PostgreSQL answered (`cap` cents, `used`, `held` micros, `reset` ms), `hmin` (the earliest expiry
 * of the holds in `held`, the store's clock; 0: not known), `inf` (micros in flight),
 * and for a key `rev`, `exp`, `sc` (scopes JSON), `pool`, `capped`, `row` (descriptor JSON) and `kb`
 * (the build serial of its own last build as a key: a later build as a pool parent does not vouch for them).
 * A key's or an account's rate window PostgreSQL reported: `rr` calls, `rc` cents per window, `rw`
 * its seconds, `ra` its start (the store's clock, ms), `rn` calls and `rm` micros counted in it.
 * An in-flight set holds `rid:micros:b` scored by its expiry (Redis ms).
 */
export const PRELUDE = `${luaBudgetRules()}
local function ak_num(s)
  if s == false or s == nil or s == '' then return nil end
  return tonumber(s)
end
local function ak_clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Redis's clock in µs: a generation epoch never repeats (a lost generation key restarts its count).
local function ak_epoch()
  local t = redis.call('TIME')
  return t[1] .. string.format('%06d', tonumber(t[2]))
end
local function ak_run()
  return string.match(redis.call('INFO', 'server'), 'run_id:(%w+)')
end
-- The node's run id, read once per script call (INFO is the costliest call a script makes).
local ak_run_id = nil
local function ak_run_once()
  if ak_run_id == nil then ak_run_id = ak_run() end
  return ak_run_id
end
-- A tag's generation and epoch, read once per admission script call (nothing in it changes them).
local ak_gens = {}
local function ak_generation_once(key)
  local g = ak_gens[key]
  if g == nil then
    g = { redis.call('GET', key) or '0', redis.call('GET', key .. 'e') }
    ak_gens[key] = g
  end
  return g[1], g[2]
end
local function ak_release(key, z, member, need, b)
  if b == '' then return false end
  if redis.call('ZREM', z, member) == 0 then return false end
  if redis.call('HGET', key, 'b') ~= b then return false end
  redis.call('HINCRBY', key, 'inf', -need)
  return true
end
`;

/**
 * Admission. ARGV: 1 now (the store's clock, ms), 2 micros needed (cost + hold), 3 scope ('' none),
 * 4 token grants ('1'), 5 idempotent ('1'), 6 request id, 7 reservation TTL (ms), 8 built-after
 * (ms; negative: this process just lost Redis, trust nothing built before this very call),
 * 9 pool parent id ('' none). Answers {'U', clock, gen, epoch} unknown, {'R', kb, pb, ab, gen, epoch}
 * reserved (gen, epoch: the tag's as this call saw them before PostgreSQL, for SETTLE), or
 * {'X', outcome, cap, row, used, held, reset, cap, pcap, pused, pheld, preset, acap, aused, aheld, areset,
 * rate policy, kind, limit, remaining, reset sec, window sec} (the rate ones '' unless rate_limited).
 */
export const ADMIT_BODY = `local gen, epoch = ak_generation_once(KEYS[7])
local seen_epoch, min_built = epoch or '', tonumber(ARGV[8])
if min_built < 0 then return {'U', tostring(t), gen, seen_epoch} end
local run = ak_run_once()
local function trusted(key)
  local m = redis.call('HMGET', key, 'run', 'g', 'bt', 'lease', 'ge')
  return m[1] == run and m[2] == gen and (ak_num(m[3]) or -1) >= min_built and (ak_num(m[4]) or 0) > t
    and epoch ~= false and m[5] == epoch
end
-- Reservations past their TTL (their process died, or never wrote) stop counting.
local function sweep(key, z)
  local gone = redis.call('ZRANGEBYSCORE', z, '-inf', t)
  if #gone == 0 then return end
  local b = redis.call('HGET', key, 'b')
  local back = 0
  for _, m in ipairs(gone) do
    local amount, mb = string.match(m, ':(%d+):(%d+)$')
    if mb == b then back = back + tonumber(amount) end
  end
  redis.call('ZREMRANGEBYSCORE', z, '-inf', t)
  if back > 0 then redis.call('HINCRBY', key, 'inf', -back) end
end
local function numbers(key, z)
  sweep(key, z)
  local m = redis.call('HMGET', key, 'cap', 'used', 'held', 'reset', 'inf', 'b', 'hmin')
  return { cap = m[1] or '', used = m[2] or '0', held = m[3] or '0', reset = m[4] or '', inf = m[5] or '0',
    b = m[6] or '', hmin = ak_num(m[7]) }
end
if not trusted(KEYS[1]) then return {'U', '', gen, seen_epoch} end
local k = redis.call('HMGET', KEYS[1], 'rev', 'exp', 'sc', 'pool', 'capped', 'row', 'kb', 'b')
-- Built only as a pool parent so far, or rebuilt as one since its own last build (whose generation
-- and lease that pool build renewed): its own key fields are not known, or not vouched for.
if not k[6] or k[7] ~= k[8] then return {'U', '', gen, seen_epoch} end
local pool = k[4] or ''
if pool ~= ARGV[9] then return {'U', '', gen, seen_epoch} end
local pooled = pool ~= ''
local capped = k[5] == '1'
if pooled and not trusted(KEYS[3]) then return {'U', '', gen, seen_epoch} end
-- The account's mirror counts only once a call reaches the account's stage (below): a refusal
-- before it (revoked, expired, scope, the key's or pool's budget) is answered without it.
local atrusted = capped and trusted(KEYS[5])
local now = tonumber(ARGV[1])
local kn = numbers(KEYS[1], KEYS[2])
local pn = pooled and numbers(KEYS[3], KEYS[4]) or { cap = '', used = '', held = '', reset = '', b = '' }
local an = capped and numbers(KEYS[5], KEYS[6]) or { cap = '', used = '', held = '', reset = '', b = '' }
local function refused(outcome, cap, rate)
  rate = rate or {'', '', '', '', '', ''}
  -- PostgreSQL reads the account only once the key's own checks passed: a refusal before that
  -- reports no account numbers, and neither does one from here.
  local a = an
  if cap ~= 'account' and rate[1] ~= 'account' then a = { cap = '', used = '', held = '', reset = '' } end
  return {'X', outcome, cap, k[6], kn.used, kn.held, kn.reset, kn.cap,
    pn.cap, pn.used, pn.held, pn.reset, a.cap, a.used, a.held, a.reset, unpack(rate)}
end
-- A rate window as PostgreSQL last answered it (rw nil: none known, nothing refused by it).
local function window(key)
  local m = redis.call('HMGET', key, 'rr', 'rc', 'rw', 'ra', 'rn', 'rm')
  return { rr = ak_num(m[1]), rc = ak_num(m[2]), rw = ak_num(m[3]), ra = ak_num(m[4]), rn = ak_num(m[5]) or 0,
    rm = ak_num(m[6]) or 0 }
end
local kw = window(KEYS[1])
local aw = capped and window(KEYS[5]) or {}
-- The engine's order: revoked, expired, scope bind every call (a replay too), then the budget.
if k[1] == '1' then return refused('revoked', '') end
if not ak_unexpired(ak_num(k[2]), now) then return refused('expired', '') end
local scopes = nil
if k[3] and k[3] ~= '' then scopes = cjson.decode(k[3]) end
local scope = nil
if ARGV[3] ~= '' then scope = ARGV[3] end
if ARGV[4] ~= '1' or not ak_scope_ok(scope, scopes) then return refused('scope', '') end
-- A period that rolled is PostgreSQL's to reset.
if ak_elapsed(ak_num(kn.reset), now) or (pooled and ak_elapsed(ak_num(pn.reset), now))
  or (atrusted and ak_elapsed(ak_num(an.reset), now)) then return {'U', '', gen, seen_epoch} end
local need = tonumber(ARGV[2])
local function taken(n) return tonumber(n.used) + tonumber(n.held) + tonumber(n.inf) end
-- An idempotent repeat may be a replay, which charges nothing: only PostgreSQL can tell.
if ARGV[5] ~= '1' then
  -- Held micros count only while every hold in them may still count: past the earliest hold's
  -- expiry (or when PostgreSQL's row did not say it), a refusal by them is PostgreSQL's to give.
  local function over(n)
    if ak_cap_fits(ak_num(n.cap), taken(n), need) then return false end
    if tonumber(n.held) > 0 and n.hmin ~= nil and not ak_unexpired(n.hmin, now) then return nil end
    return true
  end
  -- The engine's order: key and pool budgets, the key's rate window, the account's budget, its window.
  local function limited(w, policy)
    local why = ak_rate_refusal(w.rr, w.rc, w.rw, w.ra, w.rn, w.rm, now, need)
    if why == nil then return nil end
    local left = ak_rate_remaining(why, w.rr, w.rc, w.rn, w.rm, w.ra, w.rw, now)
    return refused('rate_limited', '', {policy, why, tostring(why == 'requests' and w.rr or w.rc), tostring(left),
      tostring(ak_rate_reset_sec(w.ra, w.rw, now)), tostring(w.rw)})
  end
  for _, c in ipairs({ { kn, 'key', true }, { pn, 'pool', pooled }, { kw, 'key' }, { an, 'account', capped },
    { aw, 'account' } }) do
    -- At the account's stage: PostgreSQL's to judge when the mirror does not know whether the
    -- account has a ceiling (built only from rows that never read it) or its account mirror is not trusted.
    if c[2] == 'account' and (not k[5] or (capped and not atrusted)) then return {'U', '', gen, seen_epoch} end
    if c[3] then
      local o = over(c[1])
      if o == nil then return {'U', '', gen, seen_epoch} end
      if o then return refused('budget', c[2]) end
    elseif c[3] == nil and c[1].rw ~= nil then
      local r = limited(c[1], c[2])
      if r then return r end
    end
  end
  -- Admitted: counted in each window the mirror knows, as the engine counts it (PostgreSQL still
  -- judges by its own window; a refusal there rebuilds this one from PostgreSQL's row).
  for _, c in ipairs({ { KEYS[1], kw }, { KEYS[5], aw } }) do
    local w = c[2]
    if w.rw ~= nil then
      redis.call('HSET', c[1], 'ra', tostring(ak_rate_start(w.ra, w.rw, now)),
        'rn', tostring(ak_rate_count_after(w.rn, w.ra, w.rw, now)),
        'rm', tostring(ak_rate_micros_after(w.rm, w.ra, w.rw, now, need)))
    end
  end
end
-- An idempotent call reserves nothing (a replay charges nothing, so its reservation could refuse
-- a call that fits): it goes on unreserved, and PostgreSQL's row rebuilds the mirror.
if ARGV[5] == '1' then return {'U', '', gen, seen_epoch} end
if need == 0 then return {'R', '', '', '', gen, seen_epoch} end
local ttl = tonumber(ARGV[7])
local function reserve(key, z, b)
  redis.call('ZADD', z, t + ttl, ARGV[6] .. ':' .. ARGV[2] .. ':' .. b)
  redis.call('PEXPIRE', z, ttl + 60000)
  redis.call('HINCRBY', key, 'inf', need)
  return b
end
return {'R', reserve(KEYS[1], KEYS[2], kn.b), pooled and reserve(KEYS[3], KEYS[4], pn.b) or '',
  capped and reserve(KEYS[5], KEYS[6], an.b) or '', gen, seen_epoch}
`;
export const ADMIT = `${PRELUDE}
local t = ak_clock()
${ADMIT_BODY}`;

/**
 * After PostgreSQL's answer. ARGV: 1 request id, 2 micros reserved, 3-5 build serials reserved
 * against (key, pool, account; '' none), 6 PostgreSQL charged it ('1'), 7 micros charged, 8 micros
 * newly held, 9 rebuild ('1'), 10 lease (ms), 11-13 the key's, pool's and account's numbers (JSON;
 * '' none), 14 the new hold's expiry (store clock, ms), 15-16 the generation and epoch the admission
 * saw ('' not asked: a build is trusted only while they are the tag's), 17 this call was admitted
 * by the mirror ('1': counted in the windows it knows). A reservation still there is committed into
 * the mirror it was made against, unless that mirror was rebuilt since.
 */
export const SETTLE_BODY = `local t = ak_clock()
local member = ARGV[1] .. ':' .. ARGV[2]
local need = tonumber(ARGV[2])
local ok = ARGV[6] == '1'
local function commit(key, z, b)
  if ak_release(key, z, member .. ':' .. b, need, b) and ok then
    redis.call('HINCRBY', key, 'used', ARGV[7])
    if ARGV[8] ~= '0' then
      redis.call('HINCRBY', key, 'held', ARGV[8])
      local hmin = ak_num(redis.call('HGET', key, 'hmin'))
      if hmin == nil or tonumber(ARGV[14]) < hmin then redis.call('HSET', key, 'hmin', ARGV[14]) end
    end
  end
end
commit(KEYS[1], KEYS[2], ARGV[3])
commit(KEYS[3], KEYS[4], ARGV[4])
commit(KEYS[5], KEYS[6], ARGV[5])
if ARGV[9] ~= '1' then return 0 end
local run = ak_run_once()
local gen = redis.call('GET', KEYS[7]) or '0'
local epoch = redis.call('GET', KEYS[7] .. 'e')
if not epoch then
  epoch = ak_epoch()
  redis.call('SET', KEYS[7] .. 'e', epoch, 'PX', 86400000)
end
-- A change since the admission may postdate the row: built for its fields, never trusted.
local vouched = ARGV[15] == gen and ARGV[16] == epoch
local lease = tonumber(ARGV[10])
-- A key's build replaces all its fields; a pool parent's or an account's only its counter's (a
-- pool parent's own key fields stay as its own builds left them).
-- 'capped' is not among them: a row that did not read the account (rows.ts) leaves it as it was.
local KEY_FIELDS = {'rev', 'exp', 'sc', 'cap', 'reset', 'hmin', 'pool', 'row', 'rr', 'rc', 'rw', 'ra', 'rn', 'rm'}
local COUNTER_FIELDS = {'cap', 'reset', 'hmin', 'rr', 'rc', 'rw', 'ra', 'rn', 'rm'}
local function build(key, json, optional)
  if json == '' then return end
  local f = cjson.decode(json)
  -- A rate window's start PostgreSQL reported to the second (ra earliest, rah latest): the start
  -- this mirror already has is kept when it lies between (a call that opened the window set it).
  if f.rah ~= nil then
    local had = ak_num(redis.call('HGET', key, 'ra'))
    if had ~= nil and had > tonumber(f.ra) and had <= tonumber(f.rah) then f.ra = tostring(had) end
    f.rah = nil
  end
  -- The build serial: Redis's clock and a count, so a mirror that expired and was built again
  -- never reuses a serial an old reservation still carries.
  local n = redis.call('HINCRBY', key, 'n', 1) % 1000
  local b = tostring(t) .. string.format('%03d', n)
  local args = {'run', run, 'g', gen, 'ge', epoch, 'bt', tostring(t),
    'lease', vouched and tostring(t + lease) or '0', 'inf', '0', 'b', b}
  -- Only a build as a key vouches for the key's own fields (ADMIT compares kb with b).
  if optional == KEY_FIELDS then args[#args + 1] = 'kb'; args[#args + 1] = b end
  for name, v in pairs(f) do args[#args + 1] = name; args[#args + 1] = v end
  redis.call('HSET', key, unpack(args))
  for _, name in ipairs(optional) do
    if f[name] == nil then redis.call('HDEL', key, name) end
  end
  redis.call('PEXPIRE', key, lease + 60000)
end
build(KEYS[1], ARGV[11], KEY_FIELDS)
build(KEYS[3], ARGV[12], COUNTER_FIELDS)
build(KEYS[5], ARGV[13], COUNTER_FIELDS)
-- Admitted here, refused by PostgreSQL: the admission counted the call in the account's window,
-- and a row that did not rebuild the account leaves that count standing (an over-count: refusals
-- of calls PostgreSQL allows). The account's mirror is not trusted until a row rebuilds it.
if not ok and ARGV[17] == '1' and ARGV[13] == '' and redis.call('EXISTS', KEYS[5]) == 1 then
  redis.call('HSET', KEYS[5], 'lease', '0')
end
return 1
`;
export const SETTLE = `${PRELUDE}
${SETTLE_BODY}`;
