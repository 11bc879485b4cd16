import type { Queryable } from '@agentkey/core';
import { type ConsoleTables, cents } from './names.js';

export interface LedgerRow {
  id: string;
  at: Date;
  kind: string;
  amountCents: number;
  actor: string | null;
  holdId: string | null;
}

/** One row's newest ledger entries (the principal/at index, walked backwards). */
export async function rowLedger(
  pool: Queryable,
  t: ConsoleTables,
  id: number,
  limit = 50,
): Promise<LedgerRow[]> {
  const { rows } = await pool.query(
    `SELECT id, at, kind, amount_micros, actor, hold_id FROM ${t.ledger}
      WHERE principal_id = $1 ORDER BY at DESC, id DESC LIMIT $2`,
    [id, limit],
  );
  return rows.map((r: Record<string, unknown>) => ({
    id: String(r.id),
    at: r.at as Date,
    kind: String(r.kind),
    amountCents: cents(r.amount_micros),
    actor: (r.actor as string | null) ?? null,
    holdId: r.hold_id === null ? null : String(r.hold_id),
  }));
}

export interface AccountRow {
  accountId: string;
  limitCents: number | null;
  usedCents: number;
  heldCents: number;
  period: string | null;
  resetAt: Date | null;
}

/** Accounts with a ceiling row, by id, keyset-paged. */
export async function listAccounts(
  pool: Queryable,
  t: ConsoleTables,
  after: string | undefined,
  limit = 50,
): Promise<{ rows: AccountRow[]; next: string | null }> {
  const { rows } = await pool.query(
    `SELECT account_id, budget_cents, budget_used_micros, held_micros, budget_period, budget_reset_at
       FROM ${t.accounts} WHERE $1::text IS NULL OR account_id > $1 ORDER BY account_id LIMIT $2`,
    [after ?? null, limit + 1],
  );
  const page = rows.slice(0, limit).map((r: Record<string, unknown>) => ({
    accountId: String(r.account_id),
    limitCents: r.budget_cents === null ? null : Number(r.budget_cents),
    usedCents: cents(r.budget_used_micros),
    heldCents: cents(r.held_micros),
    period: (r.budget_period as string | null) ?? null,
    resetAt: (r.budget_reset_at as Date | null) ?? null,
  }));
  return { rows: page, next: rows.length > limit ? page[page.length - 1]!.accountId : null };
}
