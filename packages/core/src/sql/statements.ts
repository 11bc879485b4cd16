import {
  centsOf,
  ELAPSED,
  FITS,
  LIVE,
  NEXT_RESET,
  NOW,
  SCOPE_OK,
  STALE,
  USED_MICROS,
} from './expressions.js';
import type { TableNames } from './identifier.js';

/** Row columns every read returns; `used_micros` and `budget_reset_at` as of `$2` (now). */
const FIXED_COLUMNS = `id, account_id, user_id, name, scopes, budget_cents, budget_period, expires_at, delegated_by,
  revoked_at, external_subject, key_prefix, created_at, last_used_at`;
const VIRTUAL_COLUMNS = `${FIXED_COLUMNS}, ${USED_MICROS}::float8 AS used_micros, ${NEXT_RESET} AS budget_reset_at`;
const STORED_COLUMNS = `${FIXED_COLUMNS}, budget_used_micros::float8 AS used_micros, budget_reset_at`;

export type Selector = 'key_hash' | 'external_subject';

export interface Statements {
  /** $1 selector value, $2 now, $3 cost micros, $4 scope, $5 token-side grant. One round trip. */
  charge(by: Selector): string;
  /** $1 selector value, $2 now. Resets an elapsed period and touches last_used_at when stale. */
  touch(by: Selector): string;
  insert: string;
  insertSubject: string;
  /** $1 selector value, $2 now. */
  read(by: Selector | 'id'): string;
  /** $1 account, $2 now. */
  listByAccount: string;
  /** $1 selector value, $2 now, $3 account or null. */
  revoke(by: Selector | 'id'): string;
}

export function statements(t: TableNames): Statements {
  const charge = (by: Selector) => `WITH upd AS (
  UPDATE ${t.keys} SET
    budget_used_micros = ${USED_MICROS} + $3::bigint,
    budget_used_cents = ${centsOf(`${USED_MICROS} + $3::bigint`)},
    budget_reset_at = ${NEXT_RESET},
    last_used_at = CASE WHEN ${STALE} THEN ${NOW} ELSE last_used_at END
  WHERE ${by} = $1 AND $5::boolean AND ${LIVE} AND ${SCOPE_OK} AND ${FITS}
    AND ($3::bigint > 0 OR ${ELAPSED} OR ${STALE})
  RETURNING ${STORED_COLUMNS}, true AS passed
)
SELECT * FROM upd
UNION ALL
SELECT ${VIRTUAL_COLUMNS}, false AS passed FROM ${t.keys} WHERE ${by} = $1 AND NOT EXISTS (SELECT 1 FROM upd)`;

  const touch = (by: Selector) => `WITH upd AS (
  UPDATE ${t.keys} SET
    budget_used_micros = ${USED_MICROS},
    budget_used_cents = ${centsOf(USED_MICROS)},
    budget_reset_at = ${NEXT_RESET},
    last_used_at = CASE WHEN ${LIVE} AND ${STALE} THEN ${NOW} ELSE last_used_at END
  WHERE ${by} = $1 AND (${ELAPSED} OR (${LIVE} AND ${STALE}))
  RETURNING ${STORED_COLUMNS}
)
SELECT * FROM upd
UNION ALL
SELECT ${VIRTUAL_COLUMNS} FROM ${t.keys} WHERE ${by} = $1 AND NOT EXISTS (SELECT 1 FROM upd)`;

  const insertColumns = `account_id, user_id, key_hash, key_prefix, name, scopes, budget_cents, budget_used_cents,
    budget_used_micros, budget_period, budget_reset_at, expires_at, delegated_by, external_subject`;
  const insertValues = '$1, $2, $3, $4, $5, $6::text[], $7, 0, 0, $8, $9, $10, $11, $12';

  return {
    charge,
    touch,
    insert: `INSERT INTO ${t.keys} (${insertColumns}) VALUES (${insertValues}) RETURNING id`,
    insertSubject: `INSERT INTO ${t.keys} (${insertColumns}) VALUES (${insertValues})
      ON CONFLICT (external_subject) WHERE external_subject IS NOT NULL DO NOTHING RETURNING id`,
    read: (by) => `SELECT ${VIRTUAL_COLUMNS} FROM ${t.keys} WHERE ${by} = $1`,
    listByAccount: `SELECT ${VIRTUAL_COLUMNS} FROM ${t.keys} WHERE account_id = $1 ORDER BY id`,
    revoke: (by) => `UPDATE ${t.keys} SET revoked_at = ${NOW}
      WHERE ${by} = $1 AND revoked_at IS NULL AND ($3::text IS NULL OR account_id = $3::text) RETURNING id`,
  };
}
