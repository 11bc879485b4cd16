import { ADMIT_BODY, PRELUDE, SETTLE_BODY } from './script.js';

/**
 * The batch forms of the counter's scripts (script.ts): one script call for many admissions
 * (admits.ts) or many settles (settles.ts), each as its one-call script, in order.
 */

/**
 * Admissions in one ADMIT_MANY call at most (one script: Redis answers nothing else meanwhile).
 * 16, not 64: 32 callers answered by one PostgreSQL batch come back together; in one script they
 * stay one convoy that reaches PostgreSQL only when all are admitted, while at 16 the first half
 * is in PostgreSQL as the second is admitted (bench r4/r3: 0.53–0.56 at 64, 0.59–0.63 at 16; the
 * hot-key scenario rh, at most 8 callers per process, is unchanged).
 */
export const ADMIT_MANY_MAX = 16;

/**
 * Several admissions in one call, as ADMIT one after another at one Redis clock reading (a later
 * call sees what an earlier one reserved): KEYS are ADMIT's 7 per call, ARGV its 9 per call, in
 * the same order; answers ADMIT's answer per call, in order. On a Cluster every call of one
 * script shares a hash tag.
 */
export const ADMIT_MANY = `${PRELUDE}
local t = ak_clock()
local function ak_admit(KEYS, ARGV)
${ADMIT_BODY}end
local n = math.floor(#KEYS / 7)
local out = {}
for i = 0, n - 1 do
  local keys, argv = {}, {}
  for j = 1, 7 do keys[j] = KEYS[i * 7 + j] end
  for j = 1, 9 do argv[j] = ARGV[i * 9 + j] end
  out[i + 1] = ak_admit(keys, argv)
end
return out
`;

/** Settles in one SETTLE_MANY call at most (one script: Redis answers nothing else meanwhile). */
export const SETTLE_MANY_MAX = 64;

/**
 * Several settles in one call, as SETTLE one after another: KEYS are SETTLE's 7 per settle, ARGV
 * its 17 per settle, in the same order. On a Cluster every settle of one call shares a hash tag.
 */
export const SETTLE_MANY = `${PRELUDE}
local function ak_settle(KEYS, ARGV)
${SETTLE_BODY}end
local n = math.floor(#KEYS / 7)
for i = 0, n - 1 do
  local keys, argv = {}, {}
  for j = 1, 7 do keys[j] = KEYS[i * 7 + j] end
  for j = 1, 17 do argv[j] = ARGV[i * 17 + j] end
  ak_settle(keys, argv)
end
return n
`;
