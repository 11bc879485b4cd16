import type { Queryable } from '@agentkey/core';
import { type ConsoleTables, cents } from './names.js';

/** Kinds whose amounts add up to spend (core's SPEND_KINDS: charges, settles, adjusts, voids). */
const SPEND = `kind IN ('charge', 'settle', 'adjust', 'void')`;

export interface RowSummary {
  id: number;
  name: string;
  subject: string | null;
  accountId: string;
  usedCents: number;
  heldCents: number;
  limitCents: number | null;
}

export interface Overview {
  todayCents: number;
  periodCents: number;
  openHolds: { count: number; cents: number };
  topSpenders: RowSummary[];
  nearCap: Array<RowSummary & { ratio: number }>;
  refusals: Array<{ code: string; count: number }>;
}

const summary = (r: Record<string, unknown>): RowSummary => ({
  id: Number(r.id),
  name: String(r.name),
  subject: (r.external_subject as string | null) ?? null,
  accountId: String(r.account_id ?? ''),
  usedCents: cents(r.budget_used_micros),
  heldCents: cents(r.held_micros),
  limitCents: r.budget_cents === null ? null : Number(r.budget_cents),
});

/** The near-cap order. Deliberately not indexed: an index on the spent and held columns would make every charge a non-HOT update (core migration 003). */
const RATIO = '((COALESCE(budget_used_micros, 0) + held_micros)::float8 / budget_cents)';

const COLUMNS = 'id, name, external_subject, account_id, budget_used_micros, held_micros, budget_cents';

/**
 * The overview's numbers, each one indexed query: today's spend from the ledger (its `at` index),
 * this period's from the counters, the top spenders and the keys nearest their cap from the keys
 * table (the spend index), open holds from the holds' partial index, and refusals from the access
 * audit log when there is one.
 */
export async function readOverview(
  pool: Queryable,
  t: ConsoleTables,
  now: Date,
  withAudit: boolean,
): Promise<Overview> {
  const day = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const [today, period, holds, top, near, refusals] = await Promise.all([
    pool.query(`SELECT COALESCE(SUM(amount_micros), 0) AS m FROM ${t.ledger} WHERE at >= $1 AND ${SPEND}`, [
      day,
    ]),
    pool.query(
      `SELECT COALESCE(SUM(budget_used_micros), 0) AS m FROM ${t.keys} WHERE pool_parent_id IS NULL`,
    ),
    pool.query(
      `SELECT count(*) AS n, COALESCE(SUM(amount_micros), 0) AS m FROM ${t.holds} WHERE state = 'open' AND expires_at > $1`,
      [now],
    ),
    pool.query(
      `SELECT ${COLUMNS} FROM ${t.keys} WHERE budget_used_micros > 0 ORDER BY budget_used_micros DESC NULLS LAST, id LIMIT 10`,
    ),
    // The capped live rows nearest their cap, straight off migration 003's index on this ratio
    // (micros used and held per cent of cap: 10,000 is the whole cap, 8,000 is 80%).
    pool.query(
      `SELECT ${COLUMNS} FROM ${t.keys} WHERE budget_cents > 0 AND revoked_at IS NULL
         AND ${RATIO} >= 8000 AND (expires_at IS NULL OR expires_at > $1)
       ORDER BY ${RATIO} DESC LIMIT 10`,
      [now],
    ),
    withAudit
      ? pool.query(
          `SELECT detail->>'code' AS code, count(*) AS n FROM ${t.audit}
            WHERE at >= $1 AND detail ? 'code' GROUP BY 1 ORDER BY 2 DESC LIMIT 20`,
          [new Date(now.getTime() - 86_400_000)],
        )
      : Promise.resolve({ rows: [] }),
  ]);
  return {
    todayCents: cents(today.rows[0]?.m),
    periodCents: cents(period.rows[0]?.m),
    openHolds: { count: Number(holds.rows[0]?.n ?? 0), cents: cents(holds.rows[0]?.m) },
    topSpenders: top.rows.map(summary),
    nearCap: near.rows.map((r: Record<string, unknown>) => {
      const s = summary(r);
      return { ...s, ratio: s.limitCents ? (s.usedCents + s.heldCents) / s.limitCents : 0 };
    }),
    refusals: refusals.rows.map((r: Record<string, unknown>) => ({
      code: String(r.code),
      count: Number(r.n),
    })),
  };
}
