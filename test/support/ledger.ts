import { expect } from 'vitest';

/** A ledger row as `EVENTS` selects it: kind, micros, hold id. */
export interface LedgerEvent {
  kind: string;
  m: number;
  h: string;
}

/**
 * One principal's charges, holds, hold closings and voids in id order ({L}: the ledger table, $1:
 * the id). A void (sql/requests.ts) takes its call's charge back and closes a hold the call took;
 * a hold it reopens (a voided settle) comes back as a `hold` row.
 */
export const EVENTS = `SELECT kind, amount_micros::float8 AS m, hold_id::text AS h FROM {L}
  WHERE principal_id = $1 AND kind IN ('charge', 'hold', 'settle', 'release', 'expire', 'void') ORDER BY id`;

/**
 * Replays ledger events in commit order (one key or account serialises on its row lock, so id
 * order is commit order; rows one statement wrote commit together and only add, so their order
 * among themselves does not matter) and asserts used + open holds never exceeded `cap`.
 */
export function replay(events: readonly LedgerEvent[], cap: number) {
  let used = 0;
  let peak = 0;
  const open = new Map<string, number>();
  for (const e of events) {
    // A void's amount is negative: the charge it reverses.
    if (e.kind === 'charge' || e.kind === 'settle' || e.kind === 'void') used += e.m;
    if (e.kind === 'hold') open.set(e.h, e.m);
    if (e.kind !== 'charge' && e.kind !== 'hold') open.delete(e.h);
    const committed = used + [...open.values()].reduce((sum, m) => sum + m, 0);
    expect(committed).toBeLessThanOrEqual(cap);
    peak = Math.max(peak, committed);
  }
  return { used, peak };
}
