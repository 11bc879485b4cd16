import { type Statement, statement } from '../db.js';
import { engineNames } from './engine.js';
import {
  centsOf,
  ELAPSED,
  FITS_UNRESET,
  LIVE,
  NEXT_RESET,
  NOW,
  SCOPE_OK,
  STALE,
  STORED_USED_MICROS,
  USED_MICROS,
} from './expressions.js';
import { type HoldStatements, holdStatements } from './holds.js';
import type { TableNames } from './identifier.js';

/** Timestamps travel as epoch milliseconds: no date formatting in PostgreSQL, no parsing in Node. */
const ms = (expr: string) => `date_part('epoch', ${expr}) * 1000`;

/** What the request path needs of a row; `used_micros` and `budget_reset_at` as of `$2` (now). */
const HOT_COLUMNS = `id, account_id, user_id, name, scopes, budget_cents, budget_period, delegated_by, external_subject,
  ${ms('expires_at')} AS expires_at, ${ms('revoked_at')} AS revoked_at`;
const VIRTUAL_COLUMNS = `${HOT_COLUMNS}, ${USED_MICROS}::float8 AS used_micros, ${ms(NEXT_RESET)} AS budget_reset_at`;
const STORED_COLUMNS = `${HOT_COLUMNS}, budget_used_micros::float8 AS used_micros, ${ms('budget_reset_at')} AS budget_reset_at`;
/** What a passed charge returns: a live row (revoked_at is null), every column another costs. */
const PASSED_COLUMNS = `id, account_id, user_id, name, scopes, budget_cents, budget_period, delegated_by, external_subject,
  ${ms('expires_at')} AS expires_at, budget_used_micros::float8 AS used_micros, ${ms('budget_reset_at')} AS budget_reset_at`;
/** The numbers of a passed charge, for a caller that already holds the row's descriptor. */
const SLIM_COLUMNS = `id, budget_cents, ${ms('expires_at')} AS expires_at, budget_used_micros::float8 AS used_micros,
  ${ms('budget_reset_at')} AS budget_reset_at`;
/** Admin reads add what only people look at. */
const ADMIN_COLUMNS = `${VIRTUAL_COLUMNS}, key_prefix, ${ms('created_at')} AS created_at, ${ms('last_used_at')} AS last_used_at`;

export type Selector = 'key_hash' | 'external_subject';

export interface Statements {
  /**
   * The hot path: $1 selector value, $2 now, $3 cost micros (> 0), $4 scope, $5 token-side grant.
   * A plain conditional UPDATE for a row whose period has not elapsed; returns no row otherwise.
   */
  chargeFast(by: Selector): Statement;
  /** As chargeFast, returning only the numbers (for callers holding the row's descriptor). */
  chargeFastSlim(by: Selector): Statement;
  /** As chargeFast, appending the charge to the ledger in the same statement. */
  chargeFastLedger(by: Selector): Statement;
  chargeFastSlimLedger(by: Selector): Statement;
  /** The lean path for a key under an account ceiling: key and account in one statement. */
  chargeFastAccount(by: Selector): Statement;
  /** Lean reserve, settle and release, for one request and for a batch (sql/holds.ts). */
  holds: HoldStatements;
  /** The engine function: every case (holds, idempotency, pools, account ceilings, refusals). */
  engineCharge: Statement;
  engineClose: Statement;
  /** $1 selector value, $2 now. Read-only; `needs_write` says the row wants `touch` instead. */
  peek(by: Selector): Statement;
  /** $1 selector value, $2 now. Resets an elapsed period and touches last_used_at when stale. */
  touch(by: Selector): Statement;
  insert: string;
  insertSubject: string;
  /** $1 selector value, $2 now. */
  read(by: Selector | 'id'): string;
  /** $1 account, $2 now. */
  listByAccount: string;
  /** $1 selector value, $2 now, $3 account or null, $4 actor. */
  revoke(by: Selector | 'id'): string;
  /** Wraps an INSERT or UPDATE (no RETURNING) so it appends its audit row; returns `id`. */
  audited(sql: string, kind: string, nowParam: number, actorParam: number): string;
}

export function statements(t: TableNames, ledger: boolean): Statements {
  const e = engineNames(t);
  /** `sql` (without RETURNING) plus its audit row in the ledger, in one statement. */
  const audited = (sql: string, kind: string, nowParam: number, actorParam: number) =>
    ledger
      ? `WITH x AS (${sql} RETURNING id, account_id, external_subject),
  led AS (INSERT INTO ${e.ledger} (at, principal_id, subject, account_id, kind, actor)
    SELECT $${nowParam}::timestamptz, id, external_subject, account_id, '${kind}', $${actorParam}::text FROM x)
SELECT id FROM x`
      : `${sql} RETURNING id, $${nowParam}::timestamptz AS at, $${actorParam}::text AS actor`;
  // Kept lean on purpose: the period-reset arithmetic and the refusal branch cost more than the
  // UPDATE itself, and a refused or rolled-over request can afford a second statement.
  const chargeFastSql = (by: Selector, returning = PASSED_COLUMNS) => `UPDATE ${t.keys} SET
    budget_used_micros = ${STORED_USED_MICROS} + $3::bigint,
    budget_used_cents = ${centsOf(`${STORED_USED_MICROS} + $3::bigint`)},
    last_used_at = CASE WHEN ${STALE} THEN ${NOW} ELSE last_used_at END
  WHERE ${by} = $1 AND $5::boolean AND ${LIVE} AND ${SCOPE_OK} AND NOT ${ELAPSED} AND ${FITS_UNRESET}
    AND pool_parent_id IS NULL AND account_capped = false
  RETURNING ${returning}`;
  // The ledger row lands in the same statement, so in the same transaction as the counter.
  const withLedger = (
    by: Selector,
    returning: string,
  ) => `WITH upd AS (${chargeFastSql(by, `${returning}, account_id AS ledger_account, external_subject AS ledger_subject`)}),
  led AS (INSERT INTO ${e.ledger} (at, principal_id, subject, account_id, kind, amount_micros)
    SELECT $2::timestamptz, id, ledger_subject, ledger_account, 'charge', $3::bigint FROM upd)
SELECT * FROM upd`;

  // validate's common case writes nothing, so it reads without taking a row lock or a WAL flush.
  const peekSql = (by: Selector) => `SELECT ${HOT_COLUMNS}, ${STORED_USED_MICROS}::float8 AS used_micros,
    ${ms('budget_reset_at')} AS budget_reset_at, (${ELAPSED} OR (${LIVE} AND ${STALE})) AS needs_write
  FROM ${t.keys} WHERE ${by} = $1`;

  const touchSql = (by: Selector) => `WITH upd AS (
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
    budget_used_micros, budget_period, budget_reset_at, expires_at, delegated_by, external_subject, pool_parent_id,
    account_capped`;
  // The ceiling flag is settled at insert, so even a key's first charge takes the one-statement path.
  const insertValues = `$1, $2, $3, $4, $5, $6::text[], $7, 0, 0, $8, $9, $10, $11, $12, $13::integer, ${e.fn('account_capped')}($1)`;

  // Built and named once: the request path never rebuilds, hashes or compares a 4 KB string.
  // A key under an account ceiling: lock the key (re-checked on its newest version), charge the
  // account only if its own row still fits (held_micros is an upper bound of its open holds), and
  // charge the key only if the account charge happened. One statement, no second write on refusal.
  const chargeFastAccountSql = (by: Selector) => `WITH kl AS (
    SELECT id, account_id FROM ${t.keys}
    WHERE ${by} = $1 AND $5::boolean AND ${LIVE} AND ${SCOPE_OK} AND NOT ${ELAPSED} AND ${FITS_UNRESET}
      AND pool_parent_id IS NULL AND account_capped = true
    FOR UPDATE),
  acct AS (UPDATE ${e.accounts} SET budget_used_micros = ${STORED_USED_MICROS} + $3::bigint,
      budget_used_cents = ${centsOf(`${STORED_USED_MICROS} + $3::bigint`)}, updated_at = ${NOW}
    WHERE account_id = (SELECT account_id FROM kl)
      AND budget_cents IS NOT NULL AND NOT ${ELAPSED}
      AND ${STORED_USED_MICROS} + held_micros + $3::bigint <= budget_cents::bigint * 10000
      AND ${STORED_USED_MICROS} + held_micros < budget_cents::bigint * 10000
    RETURNING budget_cents AS account_limit_cents, budget_used_micros::float8 AS account_used_micros,
      ${ms('budget_reset_at')} AS account_reset_at),
  upd AS (UPDATE ${t.keys} SET budget_used_micros = ${STORED_USED_MICROS} + $3::bigint,
      budget_used_cents = ${centsOf(`${STORED_USED_MICROS} + $3::bigint`)},
      last_used_at = CASE WHEN ${STALE} THEN ${NOW} ELSE last_used_at END
    WHERE id = (SELECT id FROM kl) AND EXISTS (SELECT 1 FROM acct)
    RETURNING ${PASSED_COLUMNS})${
      ledger
        ? `,
  led AS (INSERT INTO ${e.ledger} (at, principal_id, subject, account_id, kind, amount_micros)
    SELECT ${NOW}, id, external_subject, account_id, 'charge', $3::bigint FROM upd)`
        : ''
    }
SELECT * FROM upd CROSS JOIN acct`;

  const both = (sql: (by: Selector) => string) => ({
    key_hash: statement(sql('key_hash')),
    external_subject: statement(sql('external_subject')),
  });
  const chargeFast = both((by) => chargeFastSql(by));
  const chargeFastSlim = both((by) => chargeFastSql(by, SLIM_COLUMNS));
  const chargeFastLedger = both((by) => withLedger(by, PASSED_COLUMNS));
  const chargeFastAccount = both(chargeFastAccountSql);
  const chargeFastSlimLedger = both((by) => withLedger(by, SLIM_COLUMNS));
  const touch = both(touchSql);
  const peek = both(peekSql);
  return {
    chargeFast: (by) => chargeFast[by],
    chargeFastSlim: (by) => chargeFastSlim[by],
    chargeFastLedger: (by) => chargeFastLedger[by],
    chargeFastAccount: (by) => chargeFastAccount[by],
    holds: holdStatements(t, ledger),
    chargeFastSlimLedger: (by) => chargeFastSlimLedger[by],
    engineCharge:
      statement(`SELECT * FROM ${e.fn('charge')}($1, $2::timestamptz, $3::bigint, $4::text, $5::boolean,
      $6::boolean, $7::bigint, $8::timestamptz, $9::text, $10::text, $11::boolean, $12::jsonb)`),
    engineClose:
      statement(`SELECT * FROM ${e.fn('close_hold')}($1::bigint, $2::timestamptz, $3::bigint, $4::boolean,
      $5::text, $6::boolean, $7::jsonb)`),
    peek: (by) => peek[by],
    touch: (by) => touch[by],
    insert: audited(
      `INSERT INTO ${t.keys} (${insertColumns}) VALUES (${insertValues})`,
      'admin:create',
      14,
      15,
    ),
    insertSubject: audited(
      `INSERT INTO ${t.keys} (${insertColumns}) VALUES (${insertValues})
      ON CONFLICT (external_subject) WHERE external_subject IS NOT NULL DO NOTHING`,
      'admin:provision',
      14,
      15,
    ),
    read: (by) => `SELECT ${ADMIN_COLUMNS} FROM ${t.keys} WHERE ${by} = $1`,
    listByAccount: `SELECT ${ADMIN_COLUMNS} FROM ${t.keys} WHERE account_id = $1 ORDER BY id`,
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
