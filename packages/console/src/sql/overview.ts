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

/** The overview's numbers that take a scan: recomputed in the background (overview-summary.ts). */
export interface Summary {
  todayCents: number;
  periodCents: number;
  topSpenders: RowSummary[];
  nearCap: Array<RowSummary & { ratio: number }>;
}

/** The overview's numbers read at every view: each one an index range or a small table. */
export interface Live {
  openHolds: { count: number; cents: number };
  /** Refusals by code in the last 24 h: the main API's (core's tally) and tool calls' (access audit). */
  refusals: Array<{ code: string; api: number; tools: number }>;
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

/** Micros used and held per cent of cap: 10,000 is the whole cap, 8,000 is 80%. */
const RATIO = '((COALESCE(budget_used_micros, 0) + held_micros)::float8 / budget_cents)';

const COLUMNS = 'id, name, external_subject, account_id, budget_used_micros, held_micros, budget_cents';

export const dayStart = (now: Date) =>
  new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));

/**
 * The scans behind the overview, run only by the background refresh (overview-summary.ts), never
 * per view: today's spend is a scan of the ledger (its indexes by time lead with a row or an account: one
 * by time alone would be one more write per ledger row), and the period's spend, the top spenders and
 * the keys nearest their cap are scans of the keys table. Those columns are deliberately not
 * indexed: a charge writes them, and an index naming one would make every charge a non-HOT update
 * (core migration 003). The four run at once, on four of the pool's connections.
 */
export async function computeSummary(pool: Queryable, t: ConsoleTables, now: Date): Promise<Summary> {
  const [today, period, top, near] = await Promise.all([
    pool.query(`SELECT COALESCE(SUM(amount_micros), 0) AS m FROM ${t.ledger} WHERE at >= $1 AND ${SPEND}`, [
      dayStart(now),
    ]),
    pool.query(
      `SELECT COALESCE(SUM(budget_used_micros), 0) AS m FROM ${t.keys} WHERE pool_parent_id IS NULL`,
    ),
    pool.query(
      `SELECT ${COLUMNS} FROM ${t.keys} WHERE budget_used_micros > 0 ORDER BY budget_used_micros DESC NULLS LAST, id LIMIT 10`,
    ),
    pool.query(
      `SELECT ${COLUMNS} FROM ${t.keys} WHERE budget_cents > 0 AND revoked_at IS NULL
         AND ${RATIO} >= 8000 AND (expires_at IS NULL OR expires_at > $1)
       ORDER BY ${RATIO} DESC, id LIMIT 10`,
      [now],
    ),
  ]);
  return {
    todayCents: cents(today.rows[0]?.m),
    periodCents: cents(period.rows[0]?.m),
    topSpenders: top.rows.map(summary),
    nearCap: near.rows.map((r: Record<string, unknown>) => {
      const s = summary(r);
      return { ...s, ratio: s.limitCents ? (s.usedCents + s.heldCents) / s.limitCents : 0 };
    }),
  };
}

/**
 * What every view reads live: open holds (the holds' partial index on open ones), and the last
 * 24 hours of refusals — core's tally (one row per minute and code: at most 1,440 per code) and,
 * when access is mounted, the tool calls its audit log records as refused.
 */
export async function readLive(
  pool: Queryable,
  t: ConsoleTables,
  now: Date,
  withAudit: boolean,
): Promise<Live> {
  const since = new Date(now.getTime() - 86_400_000);
  const [holds, api, tools] = await Promise.all([
    pool.query(
      `SELECT count(*) AS n, COALESCE(SUM(amount_micros), 0) AS m FROM ${t.holds} WHERE state = 'open' AND expires_at > $1`,
      [now],
    ),
    pool.query(`SELECT code, sum(count) AS n FROM ${t.refusals} WHERE minute >= $1 GROUP BY code`, [since]),
    withAudit
      ? pool.query(
          `SELECT detail->>'code' AS code, count(*) AS n FROM ${t.audit}
            WHERE at >= $1 AND detail ? 'code' GROUP BY 1 ORDER BY 2 DESC LIMIT 20`,
          [since],
        )
      : Promise.resolve({ rows: [] }),
  ]);
  const byCode = new Map<string, { code: string; api: number; tools: number }>();
  const entry = (code: string) => {
    const e = byCode.get(code) ?? { code, api: 0, tools: 0 };
    byCode.set(code, e);
    return e;
  };
  for (const r of api.rows as Array<{ code: string; n: string }>) entry(String(r.code)).api += Number(r.n);
  for (const r of tools.rows as Array<{ code: string; n: string }>)
    entry(String(r.code)).tools += Number(r.n);
  return {
    openHolds: { count: Number(holds.rows[0]?.n ?? 0), cents: cents(holds.rows[0]?.m) },
    refusals: [...byCode.values()].sort(
      (a, b) => b.api + b.tools - (a.api + a.tools) || (a.code < b.code ? -1 : 1),
    ),
  };
}
