import type { TableNames } from './identifier.js';
import { engineNames } from './names.js';

// The id goes out as text (a bigint past 2^53 stays exact): the ORDER BYs below name the table's
// column (l.id), since a bare `id` would sort by that text, putting 10 before 9.
const LEDGER_COLUMNS = `id::text AS id, at, principal_id, subject, account_id, kind,
  amount_micros::float8 AS amount_micros, idempotency_key, hold_id::text AS hold_id, actor, metadata`;

/** Operators' reads of the engine's tables (the CLI's `holds list` and `ledger`). Read-only. */
export function readStatements(t: TableNames) {
  const e = engineNames(t);
  return {
    /**
     * $1 account or null, $2 key id or null, $3 now, $4 limit: holds still open and counting as of
     * $3 (one past its expiry no longer counts against any cap), oldest first.
     */
    openHolds: `SELECT h.id::text AS id, h.principal_id, k.external_subject, h.account_id, h.amount_micros::float8 AS amount_micros,
        h.created_at, h.expires_at
      FROM ${e.holds} h LEFT JOIN ${t.keys} k ON k.id = h.principal_id
      WHERE h.state = 'open' AND h.expires_at > $3::timestamptz
        AND ($1::text IS NULL OR h.account_id = $1::text OR k.account_id = $1::text)
        AND ($2::integer IS NULL OR h.principal_id = $2::integer OR h.pool_id = $2::integer)
      ORDER BY h.id LIMIT $4`,
    /** $1 after this entry id (0: from the start), $2 account or null, $3 limit: entries in id order. */
    ledgerAfter: `SELECT ${LEDGER_COLUMNS} FROM ${e.ledger} l
      WHERE l.id > $1::bigint AND ($2::text IS NULL OR account_id = $2::text) ORDER BY l.id LIMIT $3`,
    /** $1 account or null, $2 limit: the newest entries, newest first. */
    ledgerLast: `SELECT ${LEDGER_COLUMNS} FROM ${e.ledger} l
      WHERE ($1::text IS NULL OR account_id = $1::text) ORDER BY l.id DESC LIMIT $2`,
  };
}
