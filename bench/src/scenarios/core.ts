import { AgentKey } from '@agentkey/core';
import type pg from 'pg';
import { Coalescer } from '../../../packages/core/src/batching/coalescer.js';
import type { Scenario } from '../harness.js';

export interface Setup {
  pool: pg.Pool;
  admin: pg.Pool;
  schema: string;
  keys: number;
}

const BIG = 2_000_000_000;
/** Spread requests over the keys the same way in every scenario. */
export const pick = (c: number, i: number, n: number) => (c * 7919 + i * 104_729) % n;

/** (a) the ceiling, (b) the drop-in cycle, (c) authorize: issue 2's scenarios. */
export async function coreScenarios({ pool, admin, schema, keys: n }: Setup) {
  // The least work any design must do: one conditional UPDATE … RETURNING per request through pg.
  await admin.query(
    `CREATE TABLE ${schema}.ceiling (id int PRIMARY KEY, used bigint NOT NULL, cap bigint NOT NULL)`,
  );
  await admin.query(`INSERT INTO ${schema}.ceiling SELECT g, 0, ${BIG} FROM generate_series(0, ${n - 1}) g`);
  const ceilingSql = `UPDATE ${schema}.ceiling SET used = used + 1 WHERE id = $1 AND used + 1 <= cap RETURNING used`;
  // The same least work, group-committed the way agentkey batches (coalescer.ts): every request
  // queued while two statements run goes in the next one. The bound for the batched paths.
  const batchedSql = `UPDATE ${schema}.ceiling c SET used = c.used + n.k
    FROM (SELECT id, count(*)::int AS k FROM unnest($1::int[]) id GROUP BY id) n
    WHERE c.id = n.id AND c.used + n.k <= c.cap RETURNING c.id`;
  const batched = new Coalescer<number, true>(
    async (ids) => {
      const passed = new Set((await pool.query(batchedSql, [ids])).rows.map((r) => r.id as number));
      return ids.map((id) => (passed.has(id) ? true : undefined));
    },
    { maxInFlight: 2, maxBatch: 64 },
  );

  // Issue 2's scenarios predate the ledger: measured with it off; issue 4's (engine.ts) turn it on.
  const ak = new AgentKey({ pool, tableName: `${schema}.sdk_api_keys`, ledger: false });
  await ak.migrate();
  const keys: string[] = [];
  for (let k = 0; k < n; k++) {
    keys.push((await ak.create({ accountId: `acct_${k % 10}`, budgetCents: BIG, scopes: ['chat'] })).key);
  }

  const scenarios: Scenario[] = [
    {
      name: '(a) ceiling: one conditional UPDATE … RETURNING',
      run: async (c, i) => (await pool.query(ceilingSql, [pick(c, i, n)])).rows.length === 1,
    },
    {
      name: '(a2) ceiling, group-committed: that UPDATE for all requests queued while two run (no target)',
      run: async (c, i) => (await batched.submit(pick(c, i, n))) === true,
    },
    {
      name: '(b) drop-in: validate + trackUsage(1), ledger off',
      run: async (c, i) => {
        const key = keys[pick(c, i, n)]!;
        const v = await ak.validate(key);
        return v.valid && (await ak.trackUsage(key, { costCents: 1 })).success;
      },
    },
    {
      name: '(c) authorize, costCents 1, ledger off',
      run: async (c, i) => (await ak.authorize(keys[pick(c, i, n)]!, { scope: 'chat', costCents: 1 })).ok,
    },
  ];
  return {
    ak,
    scenarios,
    targets: [
      { label: 'b/a', scenario: scenarios[2]!.name, min: 0.45 },
      { label: 'c/a', scenario: scenarios[3]!.name, min: 0.8 },
    ],
  };
}
