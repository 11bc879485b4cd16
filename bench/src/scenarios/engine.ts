import { AgentKey } from '@agentkey/core';
import type { Scenario } from '../harness.js';
import { pick, type Setup } from './core.js';

const BIG = 2_000_000_000;

async function store(setup: Setup, table: string, accounts: number, ceilings: boolean, batching = true) {
  const ak = new AgentKey({
    pool: setup.pool,
    tableName: `${setup.schema}.${table}`,
    ledger: true,
    ...(batching ? {} : { batching: false }),
  });
  await ak.migrate();
  if (ceilings) {
    for (let a = 0; a < accounts; a++) await ak.setAccountBudget(`acct_${a}`, { budgetCents: BIG });
  }
  const keys: string[] = [];
  for (let k = 0; k < setup.keys; k++) {
    keys.push(
      (await ak.create({ accountId: `acct_${k % accounts}`, budgetCents: BIG, scopes: ['chat'] })).key,
    );
  }
  return { ak, keys };
}

/**
 * Issue 4's scenarios: the ledger on, holds, account ceilings. (j) to (m) have no target: they show
 * what batching buys (g against j, f against l, h against m) and the one-key case an agent firing
 * in parallel makes (k).
 */
export async function engineScenarios(setup: Setup) {
  const n = setup.keys;
  const plain = await store(setup, 'engine_keys', 10, false);
  const tenAccounts = await store(setup, 'engine_acct10', 10, true);
  const oneAccount = await store(setup, 'engine_acct1', 1, true);
  const unbatched = await store(setup, 'engine_single', 10, false, false);
  const unbatchedAccounts = await store(setup, 'engine_single10', 10, true, false);
  const charge = (s: typeof plain) => async (c: number, i: number) =>
    (await s.ak.authorize(s.keys[pick(c, i, n)]!, { scope: 'chat', costCents: 1 })).ok;
  const holdThenSettle =
    (s: typeof plain, keys = n) =>
    async (c: number, i: number) => {
      const held = await s.ak.authorize(s.keys[pick(c, i, keys)]!, { scope: 'chat', holdCents: 2 });
      if (!held.ok || !held.hold) return false;
      return (await s.ak.settle(held.hold.id, { costCents: 1.3 })).ok;
    };
  const scenarios: Scenario[] = [
    {
      name: '(f) authorize, costCents 1, ledger on',
      run: charge(plain),
    },
    {
      name: '(g) authorize holdCents 2, then settle 1.3 (two round trips)',
      run: holdThenSettle(plain),
    },
    {
      name: '(h) authorize, 100 keys over 10 accounts with ceilings',
      run: charge(tenAccounts),
    },
    {
      name: '(i) authorize, all 100 keys in one account with a ceiling (hot row; no target)',
      run: charge(oneAccount),
    },
    {
      name: '(j) as (g) with batching off: every call its own statement (no target)',
      run: holdThenSettle(unbatched),
    },
    {
      name: '(k) as (g), every client on one key (hot row; no target)',
      run: holdThenSettle(plain, 1),
    },
    {
      name: '(l) as (f) with batching off (no target)',
      run: charge(unbatched),
    },
    {
      name: '(m) as (h) with batching off (no target)',
      run: charge(unbatchedAccounts),
    },
  ];
  return {
    scenarios,
    targets: [
      { label: 'f/a', scenario: scenarios[0]!.name, min: 0.6 },
      { label: 'g/a', scenario: scenarios[1]!.name, min: 0.35 },
      { label: 'h/a', scenario: scenarios[2]!.name, min: 0.4 },
    ],
  };
}
