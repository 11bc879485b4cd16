import type { AgentKey } from '@agentkey/core';
import { openStore, type TestDb } from '@agentkey/test-support/db.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleTables } from '../../src/sql/names.js';
import { type computeSummary, dayStart } from '../../src/sql/overview.js';
import { REFRESH_MS, readSummary, refresh, STALE_MS } from '../../src/sql/overview-summary.js';

let db: TestDb;
let ak: AgentKey;
const T0 = new Date('2026-03-15T12:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

beforeAll(async () => {
  ({ db, ak } = await openStore('postgres'));
  await ak.migrate();
  // 400 rows with spend and holds spread so some are near their cap, a few pooled, some revoked,
  // ledger rows today and yesterday.
  await db.pool.query(
    `INSERT INTO ${db.table} (account_id, key_hash, key_prefix, name, budget_cents, budget_used_cents, budget_used_micros,
        held_micros, pool_parent_id, revoked_at, expires_at)
     SELECT 'acct-' || (g % 7), md5('k' || g), 'ak_x', 'w-' || g, CASE WHEN g % 3 = 0 THEN NULL ELSE 100 END,
        (g * 37) % 100, ((g * 37) % 100)::bigint * 10000 + g, CASE WHEN g % 5 = 0 THEN 50000 ELSE 0 END,
        NULL, CASE WHEN g % 11 = 0 THEN $1::timestamptz END,
        CASE WHEN g % 13 = 0 THEN $1::timestamptz - interval '1 hour' END
       FROM generate_series(1, 400) g`,
    [T0],
  );
  await db.pool.query(`UPDATE ${db.table} SET pool_parent_id = id - 1 WHERE id % 50 = 0`);
  await db.pool.query(
    `INSERT INTO ${db.table}_ledger (at, principal_id, account_id, kind, amount_micros)
     SELECT $1::timestamptz - (g || ' minutes')::interval, 1 + g % 400, 'acct-1',
        (ARRAY['charge', 'settle', 'adjust', 'void', 'hold'])[1 + g % 5], 1000 + g
       FROM generate_series(1, 3000) g`,
    [T0],
  );
});
afterAll(() => db.close());

const t = () => consoleTables(db.table);

/** The overview's numbers computed here, from every row, in JavaScript. */
async function direct(now: Date) {
  const keys = (await db.pool.query(`SELECT * FROM ${db.table}`)).rows;
  const ledger = (await db.pool.query(`SELECT * FROM ${db.table}_ledger`)).rows;
  const spendKinds = new Set(['charge', 'settle', 'adjust', 'void']);
  const micros = (v: unknown) => Number(v ?? 0);
  const today = ledger
    .filter((l) => l.at >= dayStart(now) && spendKinds.has(l.kind))
    .reduce((s, l) => s + micros(l.amount_micros), 0);
  const period = keys
    .filter((k) => k.pool_parent_id === null)
    .reduce((s, k) => s + micros(k.budget_used_micros), 0);
  const top = keys
    .filter((k) => micros(k.budget_used_micros) > 0)
    .sort((a, b) => micros(b.budget_used_micros) - micros(a.budget_used_micros) || a.id - b.id)
    .slice(0, 10)
    .map((k) => k.id);
  const ratio = (k: Record<string, unknown>) =>
    (micros(k.budget_used_micros) + micros(k.held_micros)) / Number(k.budget_cents);
  const near = keys
    .filter(
      (k) =>
        k.budget_cents > 0 &&
        k.revoked_at === null &&
        (k.expires_at === null || k.expires_at > now) &&
        ratio(k) >= 8000,
    )
    .sort((a, b) => ratio(b) - ratio(a) || a.id - b.id)
    .slice(0, 10)
    .map((k) => k.id);
  return { todayCents: today / 10_000, periodCents: period / 10_000, top, near };
}

const shape = (s: Awaited<ReturnType<typeof computeSummary>>) => ({
  todayCents: s.todayCents,
  periodCents: s.periodCents,
  top: s.topSpenders.map((r) => r.id),
  near: s.nearCap.map((r) => r.id),
});

describe('the overview summary', () => {
  it('is the direct computation, computed inline on first sight, then shown as of its time until due', async () => {
    const first = await readSummary(db.pool, t(), T0);
    expect(first.asOf).toEqual(T0);
    const expected = await direct(T0);
    expect(expected.top).toHaveLength(10);
    expect(expected.near.length).toBeGreaterThan(0);
    expect(shape(first.summary)).toEqual(expected);
    // A charge lands: within REFRESH_MS the page still shows the summary, saying when it is from.
    await db.pool.query(
      `UPDATE ${db.table} SET budget_used_micros = budget_used_micros + 5000000000 WHERE id = 7`,
    );
    const soon = await readSummary(db.pool, t(), at(REFRESH_MS - 1));
    expect(soon.asOf).toEqual(T0);
    expect(shape(soon.summary)).toEqual(expected);
    // Due: shown once more as it was, recomputed in the background; the next view has the new numbers.
    const due = at(REFRESH_MS);
    expect((await readSummary(db.pool, t(), due)).asOf).toEqual(T0);
    await refresh(db.pool, t(), due); // the background one, still running, or nothing due any more
    const next = await readSummary(db.pool, t(), at(REFRESH_MS + 1));
    expect(next.asOf).toEqual(due);
    expect(shape(next.summary)).toEqual(await direct(due));
    expect(next.summary.topSpenders[0]?.id).toBe(7);
    // Past STALE_MS the view waits for new numbers rather than show old ones.
    const late = at(REFRESH_MS + STALE_MS + 1);
    const waited = await readSummary(db.pool, t(), late);
    expect(waited.asOf).toEqual(late);
    expect(shape(waited.summary)).toEqual(await direct(late));
  });

  it('is recomputed by one process at a time: the lease, then freed', async () => {
    const other = db.newPool();
    const now = at(10 * STALE_MS);
    const won = await Promise.all([refresh(db.pool, t(), now), refresh(other, t(), now)]);
    expect(won.filter((w) => w !== null)).toHaveLength(1);
    // Done and recent: nobody recomputes until it is due again.
    expect(await refresh(other, t(), at(10 * STALE_MS + 1))).toBeNull();
    // A process that died holding the lease holds it at most a minute.
    await db.pool.query(`UPDATE ${t().overview} SET lease_until = $1 WHERE id = 1`, [at(12 * STALE_MS)]);
    expect(await refresh(other, t(), at(11 * STALE_MS))).toBeNull();
    expect(await refresh(other, t(), at(12 * STALE_MS + 1))).not.toBeNull();
  });
});
