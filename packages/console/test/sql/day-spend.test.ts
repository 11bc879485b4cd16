import { AgentKey } from '@agentkey/core';
import { recordingPool } from '@agentkey/test-support/counter.js';
import { openStore, type TestDb } from '@agentkey/test-support/db.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FINAL_AFTER_MS, spendByDay } from '../../src/sql/day-spend.js';

let db: TestDb;
let ak: AgentKey;
let pool: ReturnType<typeof recordingPool>;
let id: number;
const NOW = new Date('2026-03-15T09:30:00Z');
const DAY = 86_400_000;

beforeAll(async () => {
  ({ db } = await openStore('postgres'));
  pool = recordingPool(db.pool);
  ak = new AgentKey({ pool, tableName: db.table });
  id = (await ak.create({ accountId: 'a', name: 'busy', budgetCents: 1_000_000 })).id;
  // 40 days of rows, every 37 minutes, of every kind (only the spend kinds count).
  await db.pool.query(
    `INSERT INTO ${db.table}_ledger (at, principal_id, account_id, kind, amount_micros)
     SELECT $1::timestamptz - (g * 37 || ' minutes')::interval, $2, 'a',
        (ARRAY['charge', 'settle', 'adjust', 'void', 'hold'])[1 + g % 5], 100 + g
       FROM generate_series(0, 1600) g`,
    [NOW, id],
  );
});
afterAll(() => db.close());

/** What the page drew before: one spend query over the 30 UTC days. */
const direct = async (now: Date) =>
  (
    await ak.spend(
      { keyId: id },
      { from: new Date(Math.floor(now.getTime() / DAY) * DAY - 29 * DAY), to: now, groupBy: 'day' },
    )
  ).buckets;

const statementsOf = async <R>(work: () => Promise<R>): Promise<{ result: R; sent: number }> => {
  const before = pool.statements;
  const result = await work();
  return { result, sent: pool.statements - before };
};

describe("a key's spend by day", () => {
  it('is the direct sum; final days are read once, later views read only the days that may change', async () => {
    const first = await statementsOf(() => spendByDay(ak, id, NOW));
    expect(first.sent).toBe(2);
    expect(first.result).toEqual(await direct(NOW));
    expect(first.result).toHaveLength(30);
    const again = await statementsOf(() => spendByDay(ak, id, new Date(NOW.getTime() + 60_000)));
    expect(again.sent).toBe(1);
    expect(again.result).toEqual(await direct(new Date(NOW.getTime() + 60_000)));
  });

  it('shows a row that lands late in a day not yet final (a void dated at its charge)', async () => {
    const recent = new Date(NOW.getTime() - FINAL_AFTER_MS + 3_600_000);
    await db.pool.query(
      `INSERT INTO ${db.table}_ledger (at, principal_id, account_id, kind, amount_micros) VALUES ($1, $2, 'a', 'void', -77000)`,
      [recent, id],
    );
    const later = new Date(NOW.getTime() + 120_000);
    expect(await spendByDay(ak, id, later)).toEqual(await direct(later));
  });

  it('moves with the days: a day that became final is read once, the oldest one leaves', async () => {
    const tomorrow = new Date(NOW.getTime() + DAY);
    const moved = await statementsOf(() => spendByDay(ak, id, tomorrow));
    expect(moved.sent).toBe(2);
    expect(moved.result).toEqual(await direct(tomorrow));
    expect(moved.result[0]!.start).toEqual(new Date(Math.floor(tomorrow.getTime() / DAY) * DAY - 29 * DAY));
  });
});
