import { MICROS_PER_CENT } from '../budget/money.js';
import type { StoreContext } from '../context.js';
import { AgentKeyInputError } from '../errors/errors.js';
import { rowIdOf } from '../input/options.js';
import { checkOptionalIdent } from '../input/values.js';
import { readStatements } from '../sql/reads.js';
import type { HoldInfo, LedgerEntry, LedgerOptions, ListHoldsOptions } from '../types.js';

const MAX_LIMIT = 10_000;

function checkLimit(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || (value as number) < 1 || (value as number) > MAX_LIMIT) {
    throw new AgentKeyInputError(`limit must be a whole number from 1 to ${MAX_LIMIT}`, 'limit');
  }
  return value as number;
}

const date = (value: unknown) => (value instanceof Date ? value : new Date(value as string));
const cents = (micros: unknown) => Number(micros) / MICROS_PER_CENT;

/** `listHolds`: holds still open and counting, of an account or a key (its own and its pool's). */
export async function listHolds(ctx: StoreContext, options: ListHoldsOptions = {}): Promise<HoldInfo[]> {
  const account = checkOptionalIdent(options.accountId, 'accountId');
  let keyId: number | null = null;
  if (options.keyId !== undefined && options.keyId !== null) {
    keyId = rowIdOf(options.keyId);
    if (keyId === null) throw new AgentKeyInputError('keyId must be a key id', 'keyId');
  }
  const limit = checkLimit(options.limit, 1000);
  const sql = readStatements(ctx.tables).openHolds;
  const { rows } = await ctx.pool.query(sql, [account, keyId, ctx.now(), limit]);
  return rows.map((r) => ({
    id: r.id,
    keyId: r.principal_id,
    subject: r.external_subject ?? null,
    accountId: r.account_id ?? null,
    amountCents: cents(r.amount_micros),
    createdAt: date(r.created_at),
    expiresAt: date(r.expires_at),
  }));
}

/**
 * `ledger`: entries after `afterId` in id order (a tail follows by passing the last id it saw),
 * or without it the newest `limit`, oldest first.
 */
export async function readLedger(ctx: StoreContext, options: LedgerOptions = {}): Promise<LedgerEntry[]> {
  const account = checkOptionalIdent(options.accountId, 'accountId');
  const limit = checkLimit(options.limit, 100);
  const sql = readStatements(ctx.tables);
  if (options.afterId === undefined) {
    const { rows } = await ctx.pool.query(sql.ledgerLast, [account, limit]);
    return rows.reverse().map(toEntry);
  }
  const after = String(options.afterId);
  if (!/^[0-9]{1,18}$/.test(after))
    throw new AgentKeyInputError('afterId must be a ledger entry id', 'afterId');
  const { rows } = await ctx.pool.query(sql.ledgerAfter, [after, account, limit]);
  return rows.map(toEntry);
}

function toEntry(r: Record<string, unknown>): LedgerEntry {
  return {
    id: r.id as string,
    at: date(r.at),
    keyId: (r.principal_id as number | null) ?? null,
    subject: (r.subject as string | null) ?? null,
    accountId: (r.account_id as string | null) ?? null,
    kind: r.kind as string,
    amountCents: cents(r.amount_micros),
    idempotencyKey: (r.idempotency_key as string | null) ?? null,
    holdId: (r.hold_id as string | null) ?? null,
    actor: (r.actor as string | null) ?? null,
    metadata: (r.metadata as Record<string, unknown> | null) ?? null,
  };
}
