import type { Queryable } from '@agentkey/core';
import type { ConsoleTables } from './names.js';
import { computeSummary, type Summary } from './overview.js';

/** A summary younger than this is shown as is; an older one is shown and recomputed in the background. */
export const REFRESH_MS = 30_000;
/** Older than this (or none yet), a view waits for the recomputation rather than show it. */
export const STALE_MS = 10 * 60_000;
/** How long one process may hold the right to recompute: a crashed refresh frees it by then. */
const LEASE_MS = 60_000;

export interface Summarised {
  summary: Summary;
  /** When its numbers were computed. */
  asOf: Date;
}

/** Refreshes this process is running, per pool and summary table: one at a time. */
const running = new WeakMap<Queryable, Map<string, Promise<Summarised | null>>>();

/**
 * The overview's scanned numbers from the summary row (core migration 004's
 * `<keys>_console_overview`): one primary-key read per view. The scans run in the background, at
 * most once per REFRESH_MS across every process (the lease in the row), and only while someone
 * looks: a console nobody opens costs nothing, and nothing here touches the request path.
 */
export async function readSummary(pool: Queryable, t: ConsoleTables, now: Date): Promise<Summarised> {
  const { rows } = await pool.query(`SELECT computed_at, payload FROM ${t.overview} WHERE id = 1`);
  const row = rows[0] as { computed_at: Date | null; payload: Summary | null } | undefined;
  const stored =
    row?.computed_at && row.payload ? { summary: row.payload, asOf: new Date(row.computed_at) } : null;
  const age = stored ? now.getTime() - stored.asOf.getTime() : Number.POSITIVE_INFINITY;
  if (stored && age < REFRESH_MS) return stored;
  if (stored && age < STALE_MS) {
    // Shown now; the next view gets the new numbers. A failure here waits for the next view.
    refresh(pool, t, now).catch(() => {});
    return stored;
  }
  // Nothing recent to show: wait for the numbers; if another process holds the lease, compute
  // them here without storing (at most once per such view, and only while that refresh runs).
  return (await refresh(pool, t, now)) ?? { summary: await computeSummary(pool, t, now), asOf: now };
}

/**
 * Recomputes and stores the summary if this process wins the lease (none held, or one expired)
 * and the stored one is due; null when another process holds it or it is not due. Exported for
 * tests and for an application that wants to warm it.
 */
export function refresh(pool: Queryable, t: ConsoleTables, now: Date): Promise<Summarised | null> {
  const mine = running.get(pool) ?? new Map<string, Promise<Summarised | null>>();
  running.set(pool, mine);
  const already = mine.get(t.overview);
  if (already) return already;
  const work = claimAndCompute(pool, t, now).finally(() => mine.delete(t.overview));
  mine.set(t.overview, work);
  return work;
}

async function claimAndCompute(pool: Queryable, t: ConsoleTables, now: Date): Promise<Summarised | null> {
  const claimed = await pool.query(
    `INSERT INTO ${t.overview} AS o (id, lease_until) VALUES (1, $1::timestamptz + $3 * interval '1 ms')
     ON CONFLICT (id) DO UPDATE SET lease_until = EXCLUDED.lease_until
       WHERE (o.computed_at IS NULL OR o.computed_at <= $1::timestamptz - $2 * interval '1 ms')
         AND (o.lease_until IS NULL OR o.lease_until < $1::timestamptz)
     RETURNING id`,
    [now, REFRESH_MS, LEASE_MS],
  );
  if (claimed.rows.length === 0) return null;
  try {
    const summary = await computeSummary(pool, t, now);
    await pool.query(
      `UPDATE ${t.overview} SET computed_at = $1, payload = $2::jsonb, lease_until = NULL WHERE id = 1`,
      [now, JSON.stringify(summary)],
    );
    return { summary, asOf: now };
  } catch (error) {
    await pool.query(`UPDATE ${t.overview} SET lease_until = NULL WHERE id = 1`).catch(() => {});
    throw error;
  }
}
