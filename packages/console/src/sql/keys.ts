import type { Queryable } from '@agentkey/core';
import { type ConsoleTables, cents } from './names.js';
import { paramList } from './params.js';

export interface KeyFilter {
  q?: string;
  accountId?: string;
  /** An issuer's namespace: subjects `<issuer>|…`. */
  issuer?: string;
  status?: 'live' | 'revoked' | 'expired';
  kind?: 'key' | 'subject';
  /** Keyset paging: rows with a smaller id than this one (newest first). */
  before?: number;
  poolParent?: number;
}

export interface KeyRow {
  id: number;
  kind: 'key' | 'subject';
  name: string;
  prefix: string;
  subject: string | null;
  accountId: string;
  usedCents: number;
  heldCents: number;
  limitCents: number | null;
  status: 'live' | 'revoked' | 'expired';
}

export const PAGE = 50;

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * One page of keys and subjects, newest first, paged by id (keyset, never OFFSET): the primary
 * key's index serves every page in the same time, the last one as the first. An issuer filter is
 * a range on the subjects' unique index (`ns|` up to `ns}`, the next character).
 */
export async function listRows(
  pool: Queryable,
  t: ConsoleTables,
  f: KeyFilter,
  now: Date,
): Promise<{ rows: KeyRow[]; next: number | null }> {
  const where: string[] = [];
  const { params, p } = paramList([now]);
  if (f.before !== undefined) where.push(`id < ${p(f.before)}`);
  if (f.poolParent !== undefined) where.push(`pool_parent_id = ${p(f.poolParent)}`);
  if (f.accountId) where.push(`account_id = ${p(f.accountId)}`);
  if (f.issuer)
    where.push(`external_subject >= ${p(`${f.issuer}|`)} AND external_subject < ${p(`${f.issuer}}`)}`);
  if (f.kind === 'key') where.push('external_subject IS NULL');
  if (f.kind === 'subject') where.push('external_subject IS NOT NULL');
  if (f.status === 'revoked') where.push('revoked_at IS NOT NULL');
  if (f.status === 'expired') where.push('revoked_at IS NULL AND expires_at <= $1');
  if (f.status === 'live') where.push('revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1)');
  const filters = where.length ? where.join(' AND ') : 'TRUE';
  const columns = `id, name, key_prefix, external_subject, account_id, budget_used_micros, held_micros, budget_cents,
        CASE WHEN revoked_at IS NOT NULL THEN 'revoked' WHEN expires_at <= $1 THEN 'expired' ELSE 'live' END AS status`;
  let source = `${t.keys} WHERE ${filters}`;
  if (f.q) {
    // The start of a name, subject or shown prefix (each with its index, migration 003), or an id:
    // one arm per index, each its newest page under every filter, so the union's newest page is
    // exactly the newest page of the OR (which the planner would walk the whole table for).
    const lower = p(`${escapeLike(f.q.toLowerCase())}%`);
    const exact = p(`${escapeLike(f.q)}%`);
    const arm = (match: string) =>
      `(SELECT id FROM ${t.keys} WHERE ${filters} AND ${match} ORDER BY id DESC LIMIT ${PAGE + 1})`;
    const arms = [
      arm(`lower(name) LIKE ${lower}`),
      arm(`external_subject IS NOT NULL AND lower(external_subject) LIKE ${lower}`),
      arm(`key_prefix LIKE ${exact}`),
      ...(/^\d{1,9}$/.test(f.q) ? [arm(`id = ${p(Number(f.q))}`)] : []),
    ];
    source = `${t.keys} WHERE id IN (SELECT id FROM (${arms.join(' UNION ')}) AS found)`;
  }
  const { rows } = await pool.query(
    `SELECT ${columns} FROM ${source} ORDER BY id DESC LIMIT ${PAGE + 1}`,
    params,
  );
  const page = rows.slice(0, PAGE).map(
    (r: Record<string, unknown>): KeyRow => ({
      id: Number(r.id),
      kind: r.external_subject === null ? 'key' : 'subject',
      name: String(r.name),
      prefix: String(r.key_prefix),
      subject: (r.external_subject as string | null) ?? null,
      accountId: String(r.account_id ?? ''),
      usedCents: cents(r.budget_used_micros),
      heldCents: cents(r.held_micros),
      limitCents: r.budget_cents === null ? null : Number(r.budget_cents),
      status: r.status as KeyRow['status'],
    }),
  );
  return { rows: page, next: rows.length > PAGE ? page[page.length - 1]!.id : null };
}

/** A pool root's children (the pool-parent index), newest first. */
export function listChildren(pool: Queryable, t: ConsoleTables, id: number, now: Date) {
  return listRows(pool, t, { poolParent: id }, now);
}
