import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { renderAll, renderStatements } from './render-all.js';

// Every unit must come from money.ts through sql/rules.ts: with the unit changed here, a 10000 or
// 9999 left anywhere in the rendered SQL was written by hand.
vi.mock('../../src/budget/money.js', async (original) => ({
  ...(await original<typeof import('../../src/budget/money.js')>()),
  MICROS_PER_CENT: 7919,
  MAX_BUDGET_CENTS: 2_111_111_111,
}));

const rules = await import('../../src/sql/rules.js');
const TABLE = 'sdk_api_keys';
const HOLDS = `"${TABLE}_holds"`;

/** A rule's rendering with every argument free: a regex matching any use of it. */
function shape(render: (...args: string[]) => string, arity: number): RegExp {
  const marks = Array.from({ length: arity }, (_, i) => `\u0001${i}\u0001`);
  const escaped = render(...marks).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(escaped.replace(/\u0001\d\u0001/g, `[\\w.$:"]+`), 'g');
}

/** Each rule's uses, cut out before looking for what only a second spelling would leave behind. */
const RULES: RegExp[] = [
  shape((id, held, now) => rules.heldNow(HOLDS, id, held, now), 3),
  shape((a, n, e) => rules.accountHeldSum(HOLDS, a, n, e), 3),
  shape((a, n) => rules.accountHeldSum(HOLDS, a, n), 2),
  shape((a) => rules.accountHeldSum(HOLDS, a), 1),
  shape((id, n, e) => rules.heldSum(HOLDS, id, n, e), 3),
  shape((id, n) => rules.heldSum(HOLDS, id, n), 2),
  shape(rules.scopeOk, 2),
  shape(rules.elapsed, 2),
];

/** What a hand-written copy of a rule leaves in rendered SQL once every real use is cut out. */
const SECOND_SPELLINGS: Array<[string, RegExp]> = [
  ['the micros-per-cent unit', /\b(10000|9999|10_000)\b/],
  ['the INTEGER cents bound', /\b2147483647\b/],
  ['the admin scope', /'admin'(?!:)/],
  ['a sum of open holds', new RegExp(`sum\\([\\w.]*amount_micros\\)[^;]{0,40}FROM ${HOLDS}`)],
  ['a period elapsed check', /([\w.]*reset\w*) IS NOT NULL AND \1 <= /],
];

/** The second spellings of a rule in `sql`, as `what: the text around it`. */
function secondSpellings(sql: string): string[] {
  // The one bare 10000 that is no unit: the claims pruned per statement.
  let left = sql.replace(/LIMIT 10000\b/g, 'LIMIT n');
  for (const rule of RULES) left = left.replace(rule, '<rule>');
  const found: string[] = [];
  for (const [what, pattern] of SECOND_SPELLINGS) {
    const match = pattern.exec(left);
    if (match) found.push(`${what}: …${left.slice(Math.max(0, match.index - 60), match.index + 60)}…`);
  }
  return found;
}

describe('one source per budget rule', () => {
  const rendered = renderAll(TABLE);

  it('renders the unit from money.ts (the mocked one here)', () => {
    expect(rendered).toContain('7919');
    expect(rendered).toContain('2111111111');
  });

  it('no statement, migration or engine function spells a rule a second time', () => {
    expect(secondSpellings(rendered)).toEqual([]);
    for (const [, sql] of renderStatements(TABLE, false)) expect(secondSpellings(sql)).toEqual([]);
  });

  it('the engine functions call the rules instead of copying them', () => {
    for (const name of ['_stored_used', '_cents_of', '_cap_fits', '_scope_ok', '_held_sum', '_elapsed']) {
      expect(rendered).toMatch(new RegExp(`FUNCTION "${TABLE}${name}"\\(`));
      expect(rendered.split(`"${TABLE}${name}"(`).length).toBeGreaterThan(2);
    }
  });

  it.each([
    ['(x + 9999) / 10000'],
    ['budget_cents::bigint * 10000'],
    ["OR 'admin' = ANY(k.scopes)"],
    [`(SELECT COALESCE(sum(amount_micros), 0) FROM ${HOLDS} WHERE account_id = x)`],
    ['AND NOT (budget_reset_at IS NOT NULL AND budget_reset_at <= now())'],
  ])('would catch a hand copy: %s', (copy) => {
    expect(secondSpellings(`${rendered}\nSELECT ${copy};`)).toHaveLength(1);
  });

  it('no file under src/sql but rules.ts writes a rule out', () => {
    const dir = fileURLToPath(new URL('../../src/sql/', import.meta.url));
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter(
      (f) => /\.(ts|sql)$/.test(f) && f !== 'rules.ts',
    );
    expect(files.length).toBeGreaterThan(10);
    for (const file of files)
      expect([file, sourceCopies(readFileSync(join(dir, file), 'utf8'))]).toEqual([file, []]);
  });

  it.each([
    ['SELECT (x + 9999) / 10000'],
    ["  OR 'admin' = ANY(scopes)"],
    ['v := (k.budget_reset_at IS NOT NULL AND k.budget_reset_at <= p_now);'],
    ['(SELECT COALESCE(sum(amount_micros), 0) FROM {{_holds}} WHERE account_id = x)'],
    [`(SELECT COALESCE(sum(h.amount_micros), 0) FROM ${'$'}{e.holds} h WHERE h.account_id = x)`],
  ])('the source check would catch a copy of a rule, even one spelled exactly like it: %s', (copy) => {
    expect(sourceCopies(copy)).toHaveLength(1);
  });
});

/** In a source file (comments left out): what only a copy of a rule from rules.ts would write. */
function sourceCopies(source: string): string[] {
  const code = source.replace(/^\s*(\/\/|\/?\*|--).*$/gm, '');
  const copies = [
    /\b(10000|9999|2147483647)\b|MICROS_PER_CENT|MAX_BUDGET_CENTS/,
    /'admin'(?!:)/,
    /([\w.]*reset\w*) IS NOT NULL AND \1 <=/,
    /sum\([\w.]*amount_micros\), 0\)\s*FROM (\$\{\w+\.holds\}|\{\{_holds\}\})/,
  ];
  return copies.flatMap((pattern) => code.match(pattern)?.[0] ?? []);
}
