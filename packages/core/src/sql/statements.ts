import { type Statement, statement } from '../db/queryable.js';
import { type ChargeStatements, chargeStatements } from './charges.js';
import { ms, perSelector, type Selector } from './columns.js';
import {
  ELAPSED,
  LIVE,
  NEXT_RESET,
  NOW,
  rowSql,
  STALE,
  STORED_USED_MICROS,
  USED_MICROS,
} from './expressions.js';
import { type HoldStatements, holdStatements } from './holds.js';
import type { TableNames } from './identifier.js';
import { insertRowSql, NEW_ROW_ACTOR_PARAM, NEW_ROW_NOW_PARAM } from './insert.js';
import { engineNames } from './names.js';
import { lockBound, pruneRequestsSql, voidRequestSql } from './requests.js';
import { centsOf, heldMicrosNow } from './rules.js';

/** What the request path needs of a row; `used_micros` and `budget_reset_at` as of `$2` (now). */
const HOT_COLUMNS = `id, account_id, user_id, name, scopes, budget_cents, budget_period, delegated_by, external_subject,
  ${ms('expires_at')} AS expires_at, ${ms('revoked_at')} AS revoked_at`;
const VIRTUAL_COLUMNS = `${HOT_COLUMNS}, ${USED_MICROS}::float8 AS used_micros, ${ms(NEXT_RESET)} AS budget_reset_at`;
const STORED_COLUMNS = `${HOT_COLUMNS}, budget_used_micros::float8 AS used_micros, ${ms('budget_reset_at')} AS budget_reset_at`;
/** Admin reads add what only people look at. */
const ADMIN_COLUMNS = `${VIRTUAL_COLUMNS}, key_prefix, pool_parent_id, ${ms('created_at')} AS created_at, ${ms('last_used_at')} AS last_used_at,
  rate_requests, rate_cents, rate_window_sec`;

export interface Statements {
  /** Lean charges, alone, with an account ceiling, and batched (sql/charges.ts). */
  charges: ChargeStatements;
  /** Lean reserve, settle and release, for one request and for a batch (sql/holds.ts). */
  holds: HoldStatements;
  /** The engine function: every case (holds, idempotency, pools, account ceilings, refusals). */
  engineCharge: Statement;
  engineClose: Statement;
  /** The in-doubt resolver's statement (sql/requests.ts). */
  voidRequest: Statement;
  /** $1 now: deletes old claims in chunks. */
  pruneRequests: string;
  /** $1 selector value, $2 now. Read-only; `needs_write` says the row wants `touch` instead. */
  peek(by: Selector): Statement;
  /** `peek` for many: $1 selector values, $2 nows (one per call); each row carries its call's `ak_ord` (1-based). */
  peekMany(by: Selector): Statement;
  /** $1 selector value, $2 now. Resets an elapsed period and touches last_used_at when stale. */
  touch(by: Selector): Statement;
  /** Parameters: `newRowParams` (sql/insert.ts). */
  insert: string;
  /** As `insert`, doing nothing when the subject has a row already. */
  insertSubject: string;
  /** $1 selector value, $2 now. */
  read(by: Selector | 'id'): string;
  /** $1 account, $2 now. */
  listByAccount: string;
  /** $1 account or null, $2 now, $3 limit: external subjects, by id. */
  listSubjects: string;
  /** $1 selector value, $2 now, $3 account or null, $4 actor. */
  revoke(by: Selector | 'id'): string;
  /** Wraps an INSERT or UPDATE (no RETURNING) so it appends its audit row; returns `id` and `account_id`. */
  audited(sql: string, kind: string, nowParam: number, actorParam: number): string;
}

/**
 * `lockMs` bounds every row-lock wait of the request path's statements on the server
 * (lock_timeout; see sql/requests.ts lockBound), so a locked row cannot pile up work.
 */
export function statements(t: TableNames, ledger: boolean, lockMs: number): Statements {
  const e = engineNames(t);
  const bound = lockBound(lockMs);
  /** `sql` (without RETURNING) plus its audit row in the ledger, in one statement. */
  const audited = (sql: string, kind: string, nowParam: number, actorParam: number) =>
    ledger
      ? `WITH x AS (${sql} RETURNING id, account_id, external_subject),
  led AS (INSERT INTO ${e.ledger} (at, principal_id, subject, account_id, kind, actor)
    SELECT $${nowParam}::timestamptz, id, external_subject, account_id, '${kind}', $${actorParam}::text FROM x)
SELECT id, account_id FROM x`
      : `${sql} RETURNING id, account_id, $${nowParam}::timestamptz AS at, $${actorParam}::text AS actor`;
  /** Open holds as of `$2`: validate and admin reads report what a new call could really use. */
  const held = `${heldMicrosNow(e.holds, t.keys, NOW)}::float8 AS held_micros`;
  /**
   * A pooled key's pool root as of `$2`, joined on `ref.pool_parent_id`: validate refuses
   * a child whose root is revoked, expired or spent, as every charge of the engine does, and
   * validate and admin reads bound its remaining by the root's. Inside the
   * subquery unqualified columns are the root's, so the period fragments read its own period.
   */
  const poolRoot = (
    ref: string,
    r: Pick<ReturnType<typeof rowSql>, 'NOW' | 'USED_MICROS'> = { NOW, USED_MICROS },
  ) => `LEFT JOIN LATERAL (SELECT root.id AS pool_id,
    ${ms('revoked_at')} AS pool_revoked_at, ${ms('expires_at')} AS pool_expires_at,
    budget_cents AS pool_budget_cents, ${r.USED_MICROS}::float8 AS pool_used_micros,
    ${heldMicrosNow(e.holds, 'root', r.NOW)}::float8 AS pool_held_micros
  FROM ${t.keys} root WHERE root.id = ${ref}.pool_parent_id) pool ON true`;
  // validate's common case writes nothing, so it reads without taking a row lock or a WAL flush.
  const peekColumns = (r: Pick<ReturnType<typeof rowSql>, 'NOW' | 'ELAPSED' | 'LIVE' | 'STALE'>) =>
    `${HOT_COLUMNS}, ${STORED_USED_MICROS}::float8 AS used_micros, ${ms('budget_reset_at')} AS budget_reset_at,
    ${heldMicrosNow(e.holds, t.keys, r.NOW)}::float8 AS held_micros, (${r.ELAPSED} OR (${r.LIVE} AND ${r.STALE})) AS needs_write,
    pool_parent_id, pool.*`;
  const peekSql = (by: Selector) =>
    `SELECT ${peekColumns({ NOW, ELAPSED, LIVE, STALE })} FROM ${t.keys} ${poolRoot(t.keys)} WHERE ${by} = $1`;
  // Concurrent validates in one read: each call's row as of its own clock (u.ak_now).
  const many = rowSql('u.ak_now', 'NULL::text');
  const peekManySql = (by: Selector) => `SELECT u.ak_ord::int AS ak_ord, ${peekColumns(many)}
  FROM unnest($1::text[], $2::timestamptz[]) WITH ORDINALITY AS u(ak_value, ak_now, ak_ord)
  JOIN ${t.keys} ON ${t.keys}.${by} = u.ak_value ${poolRoot(t.keys, many)}`;

  const touchSql = (by: Selector) => `WITH ${bound.cte}, upd AS (
  UPDATE ${t.keys} SET
    budget_used_micros = ${USED_MICROS},
    budget_used_cents = ${centsOf(USED_MICROS)},
    budget_reset_at = ${NEXT_RESET},
    last_used_at = CASE WHEN ${LIVE} AND ${STALE} THEN ${NOW} ELSE last_used_at END
  WHERE ${by} = $1 AND ${bound.guard} AND (${ELAPSED} OR (${LIVE} AND ${STALE}))
  RETURNING ${STORED_COLUMNS}, ${held}, pool_parent_id
), k AS (
SELECT * FROM upd
UNION ALL
SELECT ${VIRTUAL_COLUMNS}, ${held}, pool_parent_id FROM ${t.keys} WHERE ${by} = $1 AND NOT EXISTS (SELECT 1 FROM upd)
)
SELECT k.*, pool.* FROM k ${poolRoot('k')}`;

  const insertRow = insertRowSql(t.keys, e.fn('account_capped'));

  const touch = perSelector(touchSql);
  const peek = perSelector(peekSql);
  const peekMany = perSelector(peekManySql);
  return {
    charges: chargeStatements(t, ledger, bound),
    holds: holdStatements(t, ledger, bound),
    // $13 / $8: the call's request id (sql/requests.ts); the lock bound travels as a literal.
    engineCharge:
      statement(`SELECT * FROM ${e.fn('charge')}($1, $2::timestamptz, $3::bigint, $4::text, $5::boolean,
      $6::boolean, $7::bigint, $8::timestamptz, $9::text, $10::text, $11::boolean, $12::jsonb, $13::uuid, ${Math.trunc(lockMs)})`),
    engineClose:
      statement(`SELECT * FROM ${e.fn('close_hold')}($1::bigint, $2::timestamptz, $3::bigint, $4::boolean,
      $5::text, $6::boolean, $7::jsonb, $8::uuid, ${Math.trunc(lockMs)})`),
    voidRequest: statement(voidRequestSql(e)),
    pruneRequests: pruneRequestsSql(t),
    peek: (by) => peek[by],
    peekMany: (by) => peekMany[by],
    touch: (by) => touch[by],
    insert: audited(insertRow, 'admin:create', NEW_ROW_NOW_PARAM, NEW_ROW_ACTOR_PARAM),
    insertSubject: audited(
      `${insertRow}
      ON CONFLICT (external_subject) WHERE external_subject IS NOT NULL DO NOTHING`,
      'admin:provision',
      NEW_ROW_NOW_PARAM,
      NEW_ROW_ACTOR_PARAM,
    ),
    // With the pool root: a pooled key's remainingCents is no more than its pool has left.
    read: (by) =>
      `SELECT ${ADMIN_COLUMNS}, ${held}, pool.* FROM ${t.keys} ${poolRoot(t.keys)} WHERE ${by} = $1`,
    listByAccount: `SELECT ${ADMIN_COLUMNS}, ${held}, pool.* FROM ${t.keys} ${poolRoot(t.keys)}
      WHERE account_id = $1 ORDER BY id`,
    listSubjects: `SELECT ${ADMIN_COLUMNS}, ${held}, pool.* FROM ${t.keys} ${poolRoot(t.keys)}
      WHERE external_subject IS NOT NULL AND ($1::text IS NULL OR account_id = $1::text) ORDER BY id LIMIT $3`,
    revoke: (by) =>
      audited(
        `UPDATE ${t.keys} SET revoked_at = ${NOW}
      WHERE ${by} = $1 AND revoked_at IS NULL AND ($3::text IS NULL OR account_id = $3::text)`,
        'admin:revoke',
        2,
        4,
      ),
    audited,
  };
}
