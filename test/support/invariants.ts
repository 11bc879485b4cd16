import type { Queryable } from '@agentkey/core';
import { expect } from 'vitest';
import { type LedgerEvent, replay } from './ledger.js';

const MICROS = 10_000;

/** What the parent received an answer for: the only calls a client may count on. */
export interface Acknowledged {
  /** Charges without an idempotency key: principal id → acknowledged cents. */
  plain: Map<number, number>;
  /** Idempotency key → the charge it acknowledged (any number of replays of it). */
  keyed: Map<string, { principal: number; cents: number }>;
  /** Idempotency keys asked for but never acknowledged → their cents: charged once at most. */
  unacknowledgedKeys: Map<string, number>;
  /** Hold id → its principal and amount. */
  holds: Map<string, { principal: number; cents: number }>;
  /** Hold id → the cost its acknowledged settle charged. */
  settles: Map<string, number>;
  releases: Set<string>;
}

export const acknowledged = (): Acknowledged => ({
  plain: new Map(),
  keyed: new Map(),
  unacknowledgedKeys: new Map(),
  holds: new Map(),
  settles: new Map(),
  releases: new Set(),
});

/** The caps the checker replays the ledger against (cents). */
export interface Caps {
  keys: ReadonlyArray<{ id: number; capCents: number }>;
  accounts?: ReadonlyArray<{ accountId: string; capCents: number }>;
  /** A pool parent's cap covers the parent and its children. */
  pools?: ReadonlyArray<{ parentId: number; childIds: readonly number[]; capCents: number }>;
}

const SPEND = `kind IN ('charge', 'settle', 'void', 'reset')`;
const EVENT_KINDS = `kind IN ('charge', 'hold', 'settle', 'release', 'expire', 'void')`;

/**
 * The guarantees over PostgreSQL after a multi-process run, from the ledger in commit order and
 * the counters: no cap ever passed (per key, pool parent and account: charges plus open holds),
 * every acknowledged charge, hold, settle and release is in PostgreSQL, no idempotency key charged
 * twice, and the counters equal the ledger's sums. Returns figures for the test's log line.
 */
export async function checkInvariants(pool: Queryable, table: string, acks: Acknowledged, caps: Caps) {
  const L = `${table}_ledger`;
  const H = `${table}_holds`;
  const q = async (sql: string, params: unknown[] = []) => (await pool.query(sql, params)).rows;
  const events = (where: string, params: unknown[]) =>
    q(
      `SELECT kind, amount_micros::float8 AS m, hold_id::text AS h FROM ${L} WHERE ${where} AND ${EVENT_KINDS} ORDER BY id`,
      params,
    ) as Promise<LedgerEvent[]>;
  const peaks: string[] = [];

  // 1. No cap ever passed, replayed in commit order (a key, pool or account serialises on its row).
  for (const { id, capCents } of caps.keys) {
    const { peak } = replay(await events('principal_id = $1', [id]), capCents * MICROS);
    peaks.push(`key ${id} ${peak / MICROS}/${capCents}`);
  }
  for (const { parentId, childIds, capCents } of caps.pools ?? []) {
    const { peak } = replay(
      await events('principal_id = ANY($1)', [[parentId, ...childIds]]),
      capCents * MICROS,
    );
    peaks.push(`pool ${parentId} ${peak / MICROS}/${capCents}`);
  }
  for (const { accountId, capCents } of caps.accounts ?? []) {
    const { peak } = replay(await events('account_id = $1', [accountId]), capCents * MICROS);
    peaks.push(`account ${accountId} ${peak / MICROS}/${capCents}`);
  }

  // 2. Counters equal the ledger: spend, and what open holds keep.
  const ids = caps.keys.map((k) => k.id);
  const rows = await q(
    `SELECT k.id, k.budget_used_micros::float8 AS used, k.held_micros::float8 AS held,
       (SELECT COALESCE(sum(amount_micros), 0)::float8 FROM ${L} l WHERE l.principal_id = k.id AND l.${SPEND}) AS ledger,
       (SELECT COALESCE(sum(amount_micros), 0)::float8 FROM ${H} h WHERE h.principal_id = k.id AND h.state = 'open') AS open
     FROM ${table} k WHERE k.id = ANY($1) ORDER BY k.id`,
    [ids],
  );
  for (const r of rows)
    expect({ id: r.id, used: r.used, held: r.held }).toEqual({ id: r.id, used: r.ledger, held: r.open });
  for (const { parentId, childIds } of caps.pools ?? []) {
    // A pool's root counts what its children spend and hold too.
    const [p] = await q(
      `SELECT k.budget_used_micros::float8 AS used, k.held_micros::float8 AS held,
         (SELECT COALESCE(sum(amount_micros), 0)::float8 FROM ${L} l WHERE l.principal_id = ANY($2) AND l.${SPEND}) AS ledger,
         (SELECT COALESCE(sum(amount_micros), 0)::float8 FROM ${H} h WHERE h.principal_id = ANY($2) AND h.state = 'open') AS open
       FROM ${table} k WHERE k.id = $1`,
      [parentId, [parentId, ...childIds]],
    );
    expect({ pool: parentId, used: p.used, held: p.held }).toEqual({
      pool: parentId,
      used: p.ledger,
      held: p.open,
    });
  }
  for (const { accountId } of caps.accounts ?? []) {
    const [a] = await q(
      `SELECT a.budget_used_micros::float8 AS used, a.held_micros::float8 AS held,
         (SELECT COALESCE(sum(amount_micros), 0)::float8 FROM ${L} l WHERE l.account_id = a.account_id AND l.${SPEND}) AS ledger,
         (SELECT COALESCE(sum(amount_micros), 0)::float8 FROM ${H} h WHERE h.account_id = a.account_id AND h.state = 'open') AS open
       FROM ${table}_accounts a WHERE a.account_id = $1`,
      [accountId],
    );
    expect(a.used, `account ${accountId}: counter = ledger`).toBe(a.ledger);
    // The account's held_micros is an upper bound of its open holds (the engine repairs it).
    expect(a.held, `account ${accountId}: held covers its open holds`).toBeGreaterThanOrEqual(a.open);
  }

  // 3. Every idempotency key charged once at most; every acknowledged one exactly once.
  const perKey = new Map<string, number>(
    (
      await q(
        `SELECT idempotency_key AS k, sum(amount_micros)::float8 AS m FROM ${L}
         WHERE principal_id = ANY($1) AND kind IN ('charge', 'void') AND idempotency_key IS NOT NULL GROUP BY 1`,
        [ids],
      )
    ).map((r) => [r.k as string, r.m as number]),
  );
  const lost = [...acks.keyed].filter(([k, c]) => perKey.get(k) !== c.cents * MICROS).map(([k]) => k);
  const doubles = [...acks.unacknowledgedKeys]
    .filter(([k, cents]) => !acks.keyed.has(k) && ![0, cents * MICROS].includes(perKey.get(k) ?? 0))
    .map(([k]) => k);
  expect({ lost, doubles }, 'acknowledged keys charged exactly once').toEqual({ lost: [], doubles: [] });

  // 4. Every acknowledged hold, settle and release is in PostgreSQL as acknowledged.
  const holdRows = new Map(
    (
      await q(
        `SELECT id::text AS id, state, settled_micros::float8 AS s FROM ${H} WHERE principal_id = ANY($1)`,
        [ids],
      )
    ).map((r) => [r.id as string, r as { state: string; s: number | null }]),
  );
  const missingHolds = [...acks.holds.keys()].filter((h) => !holdRows.has(h));
  const wrongSettles = [...acks.settles].filter(([h, c]) => {
    const row = holdRows.get(h);
    return row?.state !== 'settled' || row.s !== c * MICROS;
  });
  const wrongReleases = [...acks.releases].filter((h) => holdRows.get(h)?.state !== 'released');
  expect({ missingHolds, wrongSettles, wrongReleases }).toEqual({
    missingHolds: [],
    wrongSettles: [],
    wrongReleases: [],
  });

  // 5. Spend in the ledger covers every acknowledged charge (a charge in flight when its process
  // died may be there too: committed, never acknowledged, within the caps checked above).
  const ledgerBy = new Map(rows.map((r) => [Number(r.id), r.ledger as number]));
  for (const id of ids) {
    const keyed = [...acks.keyed.values()].filter((c) => c.principal === id).reduce((s, c) => s + c.cents, 0);
    const settled = [...acks.settles]
      .filter(([h]) => acks.holds.get(h)?.principal === id)
      .reduce((s, [, c]) => s + c, 0);
    const ackedCents = (acks.plain.get(id) ?? 0) + keyed + settled;
    expect(
      ledgerBy.get(id)! / MICROS,
      `key ${id}: the ledger keeps every acknowledged charge`,
    ).toBeGreaterThanOrEqual(ackedCents);
  }
  return { peaks, keyed: acks.keyed.size, holds: acks.holds.size };
}
