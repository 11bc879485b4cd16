import { AgentKey, type AuthorizeResult } from '@agentkey/core';
import { type TestCounter, testCounter } from '@agentkey/test-support/counter.js';
import { openDb, STRESS_TIMEOUT_MS, type TestDb } from '@agentkey/test-support/db.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

/**
 * A refusal answered from a Redis mirror carries what PostgreSQL's own refusal of the same call
 * carries (README "Refusals"): the same outcome and the same numbers, no more. The same calls go
 * through a store with the counter and a store without, each on an account of its own.
 */
let db: TestDb;
let tc: TestCounter;
let mirrored: AgentKey;
let plain: AgentKey;

beforeEach(async () => {
  db = await openDb();
  // A lease longer than the test: refusals come from the mirror, never from a lapsed one.
  tc = testCounter(undefined, { trustMs: 60_000 });
  mirrored = new AgentKey({
    pool: db.newPool(),
    tableName: db.table,
    timeoutMs: STRESS_TIMEOUT_MS,
    counter: tc.counter,
  });
  plain = new AgentKey({ pool: db.newPool(), tableName: db.table, timeoutMs: STRESS_TIMEOUT_MS });
  await plain.migrate();
});

afterEach(async () => {
  tc.close();
  await db.close();
});

/** What a refusal says, less what differs by construction (the principal's id and account name). */
function said(r: AuthorizeResult) {
  if (r.ok) return { ok: true };
  const { principal: _, ...rest } = r as unknown as Record<string, unknown>;
  return JSON.parse(JSON.stringify(rest, (k, v) => (k === 'resetAt' ? typeof v : v)));
}

/** The same keys in two accounts, one served through the mirror; `calls` names a key by index. */
async function both(account: { budgetCents: number }, keys: Array<{ budgetCents?: number }>) {
  const setUp = async (ak: AgentKey, accountId: string) => {
    await ak.setAccountBudget(accountId, account);
    return Promise.all(keys.map(async (k) => (await ak.create({ accountId, ...k })).key));
  };
  return { m: await setUp(mirrored, `m-${keys.length}`), p: await setUp(plain, `p-${keys.length}`) };
}

describe('redisCounter: a refusal from the mirror says what PostgreSQL says', () => {
  it("a key's own cap: no account numbers (PostgreSQL reads the account only past the key's checks)", async () => {
    const { m, p } = await both({ budgetCents: 100 }, [{ budgetCents: 5 }]);
    for (const [ak, key] of [
      [mirrored, m[0]!],
      [plain, p[0]!],
    ] as const) {
      for (let i = 0; i < 2; i++) expect((await ak.authorize(key, { costCents: 2 })).ok).toBe(true);
    }
    const fromRedis = await mirrored.authorize(m[0]!, { costCents: 2 });
    const fromPg = await plain.authorize(p[0]!, { costCents: 2 });
    expect(fromRedis).toMatchObject({ ok: false, error: { code: 'budget_exceeded' } });
    expect(said(fromRedis)).toEqual(said(fromPg));
  });

  it("the account's ceiling: the account's numbers, as PostgreSQL counted them, after a sequence of calls", async () => {
    const { m, p } = await both({ budgetCents: 9 }, [{ budgetCents: 6 }, {}]);
    const calls: Array<[number, number]> = [
      [0, 3.3333],
      [1, 0],
      [0, 3.3333],
      [1, 1],
      [0, 1],
      [1, 2],
      [1, 3.3333],
    ];
    const answers: unknown[][] = [[], []];
    for (const [i, cents] of calls) {
      answers[0]!.push(said(await mirrored.authorize(m[i]!, { costCents: cents })));
      answers[1]!.push(said(await plain.authorize(p[i]!, { costCents: cents })));
    }
    expect(answers[0]).toEqual(answers[1]);
    expect(answers[0]!.at(-1)).toMatchObject({ ok: false, error: { code: 'budget_exceeded' } });
  });

  it("a key mirror first built from a refusal at the key's own cap still counts its later charges on the account", async () => {
    // That row never read the account: the mirror cannot know the account has a ceiling, and a
    // charge it admitted without reserving on the account's mirror was lost from the account's numbers.
    const { m, p } = await both({ budgetCents: 10 }, [{ budgetCents: 5 }, {}]);
    const run = async (ak: AgentKey, keys: string[]) => {
      const out: unknown[] = [];
      for (let i = 0; i < 2; i++) out.push(said(await ak.authorize(keys[0]!, { costCents: 6 })));
      for (let i = 0; i < 2; i++) out.push(said(await ak.authorize(keys[1]!, { costCents: 1 })));
      out.push(said(await ak.authorize(keys[0]!, { costCents: 3 })));
      out.push(said(await ak.authorize(keys[1]!, { costCents: 9 }))); // 2 + 3 + 9 > 10
      return out;
    };
    const fromRedis = await run(mirrored, m);
    expect(fromRedis).toEqual(await run(plain, p));
    expect(fromRedis.at(-1)).toMatchObject({ ok: false, account: { usedCents: 5 } });
  });
});
