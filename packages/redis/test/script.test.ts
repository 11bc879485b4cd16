import { describe, expect, inject, it, vi } from 'vitest';

// Every unit must come from core's money.ts through the one rule source: with the unit changed
// here, a 10000 or 9999 left anywhere in the Lua was written by hand (as test/sql/rules.test.ts
// checks for the SQL).
vi.mock('../../core/src/budget/money.js', async (original) => ({
  ...(await original<typeof import('../../core/src/budget/money.js')>()),
  MICROS_PER_CENT: 7919,
  MAX_BUDGET_CENTS: 2_111_111_111,
}));

const { luaBudgetRules } = await import('@agentkey/core');
const scripts = await import('../src/script.js');
const many = await import('../src/script-many.js');
const voids = await import('../src/script-void.js');
const SCRIPTS = {
  ADMIT: scripts.ADMIT,
  ADMIT_MANY: many.ADMIT_MANY,
  SETTLE: scripts.SETTLE,
  SETTLE_MANY: many.SETTLE_MANY,
  ABANDON: voids.ABANDON,
};

/** What a hand-written copy of a rule would leave in a script once the rendered rules are cut out. */
const SECOND_SPELLINGS: Array<[string, RegExp]> = [
  ['the micros-per-cent unit', /\b(10000|9999|7919|7918)\b/],
  ['the INTEGER cents bound', /\b(2147483647|2111111111)\b/],
  ['the admin scope', /["']admin["']/],
  ['a cap in micros', /(cap\w*\)?\s*\*)|(\*\s*\(?\s*\w*cap)/],
  ['a cap comparison', /(cap|taken|need)\w*\s*[<>]=?/],
  ['a period elapsed check', /reset\w*\)?\s*<=/],
  ['an expiry check', /exp\w*\)?\s*[<>]=?\s*now/],
  ['a rate window elapsed check', /now\s*-\s*\(?\s*\w*\b(ra|at)\b/],
  ['a rate count comparison or update', /\b(rn|count)\w*\)?\s*\+\s*1\b/],
  ['a rate micros update', /\b(rm|micros)\w*\)?\s*\+\s*need/],
  ['a window reset rounding', /math\.ceil/],
];

describe('the admission script has one source for its rules', () => {
  const rules = luaBudgetRules();

  it('renders the unit from core money.ts (the mocked one here)', () => {
    expect(rules).toContain('7919');
    expect(rules).toContain('2111111111');
    for (const lua of Object.values(SCRIPTS)) expect(lua.startsWith(rules)).toBe(true);
  });

  it.each(Object.entries(SCRIPTS))('%s spells no rule itself: it calls the rendered ones', (_, lua) => {
    const own = lua.slice(rules.length);
    const found = SECOND_SPELLINGS.filter(([, pattern]) => pattern.test(own)).map(([what]) => what);
    expect(found).toEqual([]);
  });

  it('the admission calls every rule the engine judges a charge by', () => {
    const own = scripts.ADMIT.slice(rules.length);
    for (const rule of [
      'ak_cap_fits',
      'ak_scope_ok',
      'ak_elapsed',
      'ak_unexpired',
      'ak_rate_refusal',
      'ak_rate_remaining',
      'ak_rate_reset_sec',
      'ak_rate_start',
      'ak_rate_count_after',
      'ak_rate_micros_after',
    ])
      expect(own).toContain(`${rule}(`);
  });

  it('the check itself would catch a copy of a rule spelled exactly like the rendered one', () => {
    const copy = rules.split('\n').find((line) => line.includes('<= (cap * 7919)'));
    expect(copy).toBeDefined();
    expect(SECOND_SPELLINGS.some(([, pattern]) => pattern.test(copy!))).toBe(true);
    for (const rule of [
      'ak_rate_start',
      'ak_rate_count_after',
      'ak_rate_micros_after',
      'ak_rate_reset_sec',
    ]) {
      const body = rules.split(`local function ${rule}(`)[1]?.split('\n')[1];
      expect(SECOND_SPELLINGS.some(([, pattern]) => pattern.test(body!))).toBe(true);
    }
  });
});

describe('the Lua rules answer as the SQL rules do', async () => {
  const { Redis } = await import('ioredis');
  const { serverPool } = await import('@agentkey/test-support/db.js');
  const sql = await import('../../core/src/sql/rules.js');

  // cap (cents or null), taken, need, in micros of the mocked unit.
  const CASES: Array<[number | null, number, number]> = [
    [null, 0, 0],
    [0, 0, 0],
    [1, 0, 7919],
    [1, 1, 7918],
    [1, 1, 7919],
    [1, 7919, 0],
    [3, 7919, 15838],
    [3, 23756, 1],
    [2_111_111_111, 0, 100],
  ];

  it('cap fits, cap holds, cents rounding, stored used, elapsed and scope', async () => {
    const redis = new Redis(inject('redisUrl'));
    const client = serverPool(undefined, 1);
    try {
      const lua = (body: string, args: (string | number)[]) =>
        redis.eval(
          `${luaBudgetRules()}\nlocal a = {}\nfor i, v in ipairs(ARGV) do a[i] = tonumber(v) end\nreturn ${body}`,
          0,
          ...args.map(String),
        );
      for (const [cap, taken, need] of CASES) {
        const capLua = cap === null ? 'nil' : 'a[1]';
        const fits = await lua(`tostring(ak_cap_fits(${capLua}, a[2], a[3]))`, [cap ?? 0, taken, need]);
        const holds = await lua(`tostring(ak_cap_holds(${capLua}, a[2] + a[3]))`, [cap ?? 0, taken, need]);
        const cents = await lua('tostring(ak_cents_of(a[2] + a[3]))', [cap ?? 0, taken, need]);
        const stored = await lua('tostring(ak_stored_used(a[2], a[1]))', [cap ?? 0, taken, need]);
        const { rows } = await client.query(
          `SELECT ${sql.capFits('$1::int', '$2::bigint', '$3::bigint')} AS fits,
            ${sql.capHolds('$1::int', '$2::bigint + $3::bigint')} AS holds,
            ${sql.centsOf('($2::bigint + $3::bigint)')} AS cents,
            ${sql.storedUsed('$2::bigint', '$4::int')} AS stored`,
          [cap, taken, need, cap ?? 0],
        );
        expect([fits, holds, Number(cents), Number(stored)]).toEqual([
          String(rows[0].fits),
          String(rows[0].holds),
          rows[0].cents,
          Number(rows[0].stored),
        ]);
      }
      for (const [reset, now] of [
        [null, 5],
        [5, 5],
        [6, 5],
        [4, 5],
      ] as const) {
        const l = await lua(`tostring(ak_elapsed(${reset === null ? 'nil' : 'a[1]'}, a[2]))`, [
          reset ?? 0,
          now,
        ]);
        const { rows } = await client.query(`SELECT ${sql.elapsed('$1::bigint', '$2::bigint')} AS e`, [
          reset,
          now,
        ]);
        expect(l).toBe(String(rows[0].e ?? false));
      }
      for (const [scope, scopes] of [
        [null, null],
        ['read', null],
        ['read', ['read']],
        ['write', ['read']],
        ['write', ['admin']],
        ['write', []],
      ] as const) {
        const l = await redis.eval(
          `${luaBudgetRules()}\nlocal scopes = nil\nif ARGV[2] ~= '' then scopes = cjson.decode(ARGV[2]) end\nlocal scope = nil\nif ARGV[1] ~= '' then scope = ARGV[1] end\nreturn tostring(ak_scope_ok(scope, scopes))`,
          0,
          scope ?? '',
          scopes === null ? '' : JSON.stringify(scopes),
        );
        const { rows } = await client.query(`SELECT ${sql.scopeOk('$1::text', '$2::text[]')} AS ok`, [
          scope,
          scopes,
        ]);
        expect([scope, scopes, l]).toEqual([scope, scopes, String(rows[0].ok)]);
      }
    } finally {
      redis.disconnect();
      await client.end();
    }
  });
});

describe('the Lua rate rules answer as the SQL ones do', async () => {
  const { Redis } = await import('ioredis');
  const { serverPool } = await import('@agentkey/test-support/db.js');
  const sql = await import('../../core/src/sql/rate-rules.js');

  // requests, cents, window sec, window start (ms, null: none), count, micros, now (ms), need.
  const T = 1_780_000_000_000;
  const CASES: Array<
    [number | null, number | null, number | null, number | null, number, number, number, number]
  > = [
    [null, null, null, null, 0, 0, T, 0],
    [3, null, 60, null, 0, 0, T, 0],
    [3, null, 60, T - 1000, 2, 0, T, 0],
    [3, null, 60, T - 1000, 3, 0, T, 0],
    [3, null, 60, T - 59_999, 3, 0, T, 0],
    [3, null, 60, T - 60_000, 3, 0, T, 0],
    [3, null, 60, T - 1500, 3, 0, T, 7919],
    [null, 2, 60, T - 30_250, 0, 7919, T, 7919],
    [null, 2, 60, T - 30_250, 0, 7919, T, 7920],
    [5, 2, 60, T - 61_000, 5, 15838, T, 100],
    [5, 2, 30, T, 4, 0, T, 15839],
  ];

  it('refusal, remaining, reset, start and the counts an admitted call writes', async () => {
    const redis = new Redis(inject('redisUrl'));
    const client = serverPool(undefined, 1);
    const v = (x: number | null) => (x === null ? '' : String(x));
    try {
      for (const c of CASES) {
        const lua = await redis.eval(
          `${luaBudgetRules()}
local a = {}
for i = 1, 8 do if ARGV[i] ~= '' then a[i] = tonumber(ARGV[i]) end end
local why = ak_rate_refusal(a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8])
if a[3] == nil then return {tostring(why)} end
local kind = why or ak_rate_kind(a[1])
return {tostring(why), tostring(ak_rate_remaining(kind, a[1], a[2], a[5], a[6], a[4], a[3], a[7])),
  tostring(ak_rate_reset_sec(a[4], a[3], a[7])), tostring(ak_rate_start(a[4], a[3], a[7])),
  tostring(ak_rate_count_after(a[5], a[4], a[3], a[7])), tostring(ak_rate_micros_after(a[6], a[4], a[3], a[7], a[8]))}`,
          0,
          ...c.map(v),
        );
        const at = 'to_timestamp($4::float8 / 1000)';
        const now = 'to_timestamp($7::float8 / 1000)';
        const why = sql.rateRefusal(
          '$1::int',
          '$2::int',
          '$3::int',
          at,
          '$5::int',
          '$6::bigint',
          now,
          '$8::bigint',
        );
        const { rows } = await client.query(
          `SELECT w AS why, ${sql.rateRemaining(`COALESCE(w, ${sql.rateKind('$1::int')})`, '$1::int', '$2::int', '$5::int', '$6::bigint', at, '$3::int', now)} AS left,
            ${sql.rateResetSec(at, '$3::int', now)} AS reset,
            (extract(epoch FROM ${sql.rateStart(at, '$3::int', now)}) * 1000)::float8 AS start,
            ${sql.rateNow('$5::int', at, '$3::int', now)} + 1 AS count,
            ${sql.rateNow('$6::bigint', at, '$3::int', now)} + $8::bigint AS micros
          FROM (SELECT ${why} AS w) x`,
          c,
        );
        const r = rows[0];
        const expected =
          c[2] === null
            ? [String(r.why ?? 'nil')]
            : [String(r.why ?? 'nil'), r.left, r.reset, r.start, Number(r.count), Number(r.micros)].map(
                String,
              );
        expect([c, lua]).toEqual([c, expected]);
      }
    } finally {
      redis.disconnect();
      await client.end();
    }
  });
});
