import type { Statement } from '../db/queryable.js';
import { DESCRIPTIVE_FIELDS } from '../keys/key-row.js';
import { ms, PASSED_COLUMNS, perSelector, type Selector, SLIM_COLUMNS } from './columns.js';
import {
  ELAPSED,
  FITS_UNRESET,
  LIVE,
  NOW,
  rowSql,
  SCOPE_OK,
  STALE,
  STORED_USED_MICROS,
} from './expressions.js';
import type { TableNames } from './identifier.js';
import { engineNames } from './names.js';
import {
  accountRateFree,
  BATCH_FITS,
  BATCH_SETS,
  BATCH_WINDOW,
  RATE_RETURNING,
  rateColumns,
  rateFits,
  rateSets,
} from './rate-lean.js';
import { batchLocks, type LockBound, MARK, mark, requestsTable, SOME_UNLOCKED } from './requests.js';
import { accountHeldMicrosNow, capFits, centsOf, elapsed, heldMicrosNow } from './rules.js';

/**
 * The lean charge statements: a positive cost on a key with no pool parent, alone or with its
 * account's ceiling. Whatever they do not take — a refusal, a pooled key, an elapsed period, a key
 * whose ceiling flag is not yet known — returns no row and goes to the engine function.
 */
export interface ChargeStatements {
  /**
   * $1 selector value, $2 now, $3 cost micros (> 0), $4 scope, $5 token-side grant, $6 request id;
   * a key with no account ceiling. Each statement claims its request id (sql/requests.ts) when
   * it charges. `slim` returns only the numbers, for a caller holding the row's descriptor.
   * With the ledger on, the ledger row lands in the same statement.
   */
  plain(by: Selector, slim: boolean): Statement;
  /** The same for a key under an account ceiling: key and account in one statement. */
  account(by: Selector): Statement;
  /**
   * Any number of charges, with or without a ceiling, each parameter an array (one element per
   * request); $7 says which callers hold the row's descriptor: their rows come back with the
   * descriptive columns null (only the numbers), as `plain`'s slim form. Rows carry `ord`
   * (1-based) for each request taken, the account's numbers when it has
   * a ceiling, and every row `busy`: the ords whose key or account another transaction held.
   * `wait`: the form that waits for locked rows instead (requests.ts batchLocks), for calls on a
   * row another process is charging; `busy` is then only a row that stopped matching meanwhile.
   */
  batch(by: Selector, wait?: boolean): Statement;
}

export function chargeStatements(t: TableNames, ledger: boolean, bound: LockBound): ChargeStatements {
  const e = engineNames(t);
  // Each passed charge reports what is held on its key and account now, so its remaining budget is
  // what a new call could really use — in the same statement, at no cost when nothing is held.
  const held = (now: string) => `${heldMicrosNow(e.holds, t.keys, now)}::float8 AS held_micros`;
  const accountHeld = (now: string) =>
    `${accountHeldMicrosNow(e.holds, e.accounts, now)}::float8 AS account_held_micros`;
  // A key's own rate window is judged and counted in the same statement (sql/rate-lean.ts).
  const passed = `${PASSED_COLUMNS}, ${held('$2::timestamptz')}, ${RATE_RETURNING(NOW)}`;
  const slim = `${SLIM_COLUMNS}, ${held('$2::timestamptz')}, ${RATE_RETURNING(NOW)}`;
  const requests = requestsTable(t);
  // The claim: a plain INSERT after the write, so a tombstone already there rolls the charge back.
  const claim = (
    rows: string,
  ) => `claim AS (INSERT INTO ${requests} (request_id, at, kind, principal_id, account_id, charged_micros, key_mark, account_mark)
    ${rows})`;
  // Kept lean on purpose: the period-reset arithmetic and the refusal branch cost more than the
  // UPDATE itself, and a refused or rolled-over request can afford a second statement.
  const plainSql = (by: Selector, returning = passed) => `UPDATE ${t.keys} SET
    budget_used_micros = ${STORED_USED_MICROS} + $3::bigint,
    budget_used_cents = ${centsOf(`${STORED_USED_MICROS} + $3::bigint`)},
    last_used_at = CASE WHEN ${STALE} THEN ${NOW} ELSE last_used_at END,
    ${rateSets(NOW, '$3::bigint')}
  WHERE ${by} = $1 AND ${bound.guard} AND $5::boolean AND ${LIVE} AND ${SCOPE_OK} AND NOT ${ELAPSED} AND ${FITS_UNRESET}
    AND pool_parent_id IS NULL AND account_capped = false AND ${accountRateFree(e.accounts, t.keys)}
    AND ${rateFits(NOW, '$3::bigint')}
  RETURNING ${returning}, ${MARK}`;
  const plainClaim = claim(
    `SELECT $6::uuid, $2::timestamptz, 'charge', id, NULL, $3::bigint, ak_mark, NULL FROM upd`,
  );
  const withoutLedger = (
    by: Selector,
    returning: string,
  ) => `WITH ${bound.cte}, upd AS (${plainSql(by, returning)}),
  ${plainClaim}
SELECT * FROM upd`;
  // The ledger row lands in the same statement, so in the same transaction as the counter.
  const withLedger = (
    by: Selector,
    returning: string,
  ) => `WITH ${bound.cte}, upd AS (${plainSql(by, `${returning}, account_id AS ledger_account, external_subject AS ledger_subject`)}),
  ${plainClaim},
  led AS (INSERT INTO ${e.ledger} (at, principal_id, subject, account_id, kind, amount_micros)
    SELECT $2::timestamptz, id, ledger_subject, ledger_account, 'charge', $3::bigint FROM upd)
SELECT * FROM upd`;

  // A key under an account ceiling: lock the key (re-checked on its newest version), charge the
  // account only if its own row still fits (held_micros is an upper bound of its open holds), and
  // charge the key only if the account charge happened. One statement, no second write on refusal.
  const accountSql = (by: Selector) => `WITH ${bound.cte}, kl AS (
    SELECT id, account_id FROM ${t.keys}
    WHERE ${by} = $1 AND ${bound.guard} AND $5::boolean AND ${LIVE} AND ${SCOPE_OK} AND NOT ${ELAPSED} AND ${FITS_UNRESET}
      AND pool_parent_id IS NULL AND account_capped = true AND ${accountRateFree(e.accounts, t.keys)}
      AND ${rateFits(NOW, '$3::bigint')}
    FOR UPDATE),
  acct AS (UPDATE ${e.accounts} SET budget_used_micros = ${STORED_USED_MICROS} + $3::bigint,
      budget_used_cents = ${centsOf(`${STORED_USED_MICROS} + $3::bigint`)}, updated_at = ${NOW}
    WHERE account_id = (SELECT account_id FROM kl)
      AND budget_cents IS NOT NULL AND NOT ${ELAPSED}
      AND ${capFits('budget_cents', `${STORED_USED_MICROS} + held_micros`, '$3::bigint')}
    RETURNING budget_cents AS account_limit_cents, budget_used_micros::float8 AS account_used_micros,
      ${ms('budget_reset_at')} AS account_reset_at, ${accountHeld(NOW)}, ${mark('')} AS ak_account_mark),
  upd AS (UPDATE ${t.keys} SET budget_used_micros = ${STORED_USED_MICROS} + $3::bigint,
      budget_used_cents = ${centsOf(`${STORED_USED_MICROS} + $3::bigint`)},
      last_used_at = CASE WHEN ${STALE} THEN ${NOW} ELSE last_used_at END,
      ${rateSets(NOW, '$3::bigint')}
    WHERE id = (SELECT id FROM kl) AND EXISTS (SELECT 1 FROM acct)
    RETURNING ${passed}, ${MARK}),
  ${claim(`SELECT $6::uuid, $2::timestamptz, 'charge', id, account_id, $3::bigint, ak_mark, ak_account_mark FROM upd, acct`)}${
    ledger
      ? `,
  led AS (INSERT INTO ${e.ledger} (at, principal_id, subject, account_id, kind, amount_micros)
    SELECT ${NOW}, id, external_subject, account_id, 'charge', $3::bigint FROM upd)`
      : ''
  }
SELECT * FROM upd CROSS JOIN acct`;

  // As sql/holds.ts's reserve batch: keys (and the ceilings of capped ones) are locked first, SKIP
  // LOCKED, and FOR UPDATE hands back their newest versions, so every decision rests on what is
  // committed now; a request whose key or account another transaction holds comes back in `busy`.
  // `busy` reads a locked key's ceiling flag from `k` too, never from the statement's snapshot: a
  // ceiling cleared after the snapshot would otherwise mark as busy a call that `admitted` charged.
  // Requests are admitted in arrival order while the running totals of both their key and their
  // account fit; the first that does not, and every later one on that key or account, go to the
  // engine. Several charges on one key or account become one write to its row.
  const many = rowSql('r.ak_now', 'r.ak_scope');
  // Each call reports its key's window as it left it (the window's count after its own call).
  const BATCH_RATE = rateColumns(
    {
      requests: 'ad.ak_rreq',
      cents: 'ad.ak_rcents',
      sec: 'ad.ak_rsec',
      at: 'ad.ak_rstart',
      count: 'ad.ak_rcount_after',
      micros: 'ad.ak_rmicros_after',
    },
    'ad.ak_now',
  );
  // A call whose descriptor is cached ($7, ak_known) gets its row's numbers only: the descriptive
  // columns (DESCRIPTIVE_FIELDS) cost PostgreSQL and pg more to send and parse than the numbers,
  // 0.2 ms of a 1.4 ms statement of 32 charges.
  const batchSql = (by: Selector, locks = batchLocks(bound, false)) => `WITH ${locks.cte}r AS (
  SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::bigint[], $4::text[], $5::boolean[], $6::uuid[],
      $7::boolean[])
    WITH ORDINALITY AS r(ak_value, ak_now, ak_cost, ak_scope, ak_ok, ak_rid, ak_known, ak_ord)),
  k AS MATERIALIZED (SELECT id, ${by} AS ak_value, account_id AS ak_account, account_capped AS ak_capped, revoked_at,
      expires_at, scopes, budget_reset_at, budget_cents, ${STORED_USED_MICROS} AS ak_used, held_micros AS ak_held,
      rate_requests AS ak_rreq, rate_cents AS ak_rcents, rate_window_sec AS ak_rsec, rate_window_at AS ak_rat,
      rate_count AS ak_rcount, rate_micros AS ak_rmicros
    FROM ${t.keys} WHERE ${by} = ANY($1::text[])${locks.guard} AND pool_parent_id IS NULL AND account_capped IS NOT NULL
      AND ${accountRateFree(e.accounts, t.keys)}
    ${locks.lock('id')}),
  a AS MATERIALIZED (SELECT account_id AS ak_account, budget_cents AS ak_cap, budget_reset_at AS ak_reset,
      ${STORED_USED_MICROS} AS ak_used, held_micros AS ak_held
    FROM ${e.accounts} WHERE account_id = ANY(ARRAY(SELECT ak_account FROM k WHERE ak_capped))
      AND budget_cents IS NOT NULL
    ${locks.lock('account_id')}),
  busy AS (SELECT array_agg(ak_ord::int) AS ak_busy FROM r WHERE ak_value = ANY(ARRAY(
      SELECT x.${by} FROM ${t.keys} x
      WHERE ${SOME_UNLOCKED} AND x.${by} = ANY($1::text[]) AND x.pool_parent_id IS NULL AND x.account_capped IS NOT NULL
        AND ${accountRateFree(e.accounts, 'x')} AND x.id <> ALL(ARRAY(SELECT id FROM k))))
    OR ak_value = ANY(ARRAY(SELECT ak_value FROM k
      WHERE ak_capped AND ak_account <> ALL(ARRAY(SELECT ak_account FROM a))
        AND EXISTS (SELECT 1 FROM ${e.accounts} y WHERE y.account_id = k.ak_account AND y.budget_cents IS NOT NULL)))),
  asked AS (SELECT r.*, k.id AS ak_id, k.budget_cents AS ak_key_cap, k.ak_used + k.ak_held AS ak_key_taken,
      (sum(r.ak_cost) OVER (PARTITION BY k.id ORDER BY r.ak_ord))::bigint AS ak_key_total,
      k.ak_rreq, k.ak_rcents, k.ak_rsec, k.ak_rat, k.ak_rcount, k.ak_rmicros,
      first_value(r.ak_now) OVER (PARTITION BY k.id ORDER BY r.ak_ord) AS ak_rfirst,
      row_number() OVER (PARTITION BY k.id ORDER BY r.ak_ord) AS ak_rn,
      a.ak_account AS ak_capped_account, a.ak_cap, a.ak_used + a.ak_held AS ak_taken,
      (sum(r.ak_cost) OVER (PARTITION BY a.ak_account ORDER BY r.ak_ord))::bigint AS ak_total
    FROM r JOIN k ON k.ak_value = r.ak_value LEFT JOIN a ON k.ak_capped AND a.ak_account = k.ak_account
    WHERE (NOT k.ak_capped OR a.ak_account IS NOT NULL) AND r.ak_ok AND ${many.LIVE} AND ${many.SCOPE_OK}
      AND NOT ${many.ELAPSED} AND NOT ${elapsed('a.ak_reset', 'r.ak_now')}),
  windowed AS (SELECT *, ${BATCH_WINDOW} FROM asked),
  admitted AS MATERIALIZED (SELECT * FROM windowed
    WHERE ${capFits('ak_key_cap', 'ak_key_taken', 'ak_key_total')} AND ${capFits('ak_cap', 'ak_taken', 'ak_total')}
      AND ${BATCH_FITS}),
  per_key AS (SELECT ak_id, sum(ak_cost)::bigint AS ak_cost, max(ak_now) AS ak_now, count(*) AS ak_rn,
      max(ak_rstart) AS ak_rstart, max(ak_rbase) AS ak_rbase, max(ak_rbase_micros) AS ak_rbase_micros
    FROM admitted GROUP BY ak_id),
  ranked AS (SELECT ad.*, ad.ak_rbase + row_number() OVER w AS ak_rcount_after,
      ad.ak_rbase_micros + sum(ad.ak_cost) OVER w AS ak_rmicros_after
    FROM admitted ad WINDOW w AS (PARTITION BY ad.ak_id ORDER BY ad.ak_ord)),
  per_account AS (SELECT ak_capped_account, sum(ak_cost)::bigint AS ak_cost, max(ak_now) AS ak_now
    FROM admitted WHERE ak_capped_account IS NOT NULL GROUP BY ak_capped_account),
  acct AS (UPDATE ${e.accounts} SET budget_used_micros = ${STORED_USED_MICROS} + p.ak_cost,
      budget_used_cents = ${centsOf(`${STORED_USED_MICROS} + p.ak_cost`)}, updated_at = p.ak_now
    FROM per_account p WHERE account_id = p.ak_capped_account
    RETURNING account_id AS ak_account, budget_cents AS account_limit_cents,
      budget_used_micros::float8 AS account_used_micros, ${ms('budget_reset_at')} AS account_reset_at,
      ${accountHeld('p.ak_now')}, ${mark('')} AS ak_account_mark),
  upd AS (UPDATE ${t.keys} SET budget_used_micros = ${STORED_USED_MICROS} + p.ak_cost,
      budget_used_cents = ${centsOf(`${STORED_USED_MICROS} + p.ak_cost`)},
      last_used_at = CASE WHEN ${rowSql('p.ak_now', 'NULL').STALE} THEN p.ak_now ELSE last_used_at END,
      ${BATCH_SETS}
    FROM per_key p WHERE id = p.ak_id
    RETURNING ${PASSED_COLUMNS}, ${held('p.ak_now')}, ${MARK}),
  ${claim(`SELECT ad.ak_rid, ad.ak_now, 'charge', ad.ak_id, ad.ak_capped_account, ad.ak_cost, upd.ak_mark, acct.ak_account_mark
    FROM admitted ad JOIN upd ON upd.id = ad.ak_id LEFT JOIN acct ON acct.ak_account = ad.ak_capped_account`)}${
    ledger
      ? `,
  led AS (INSERT INTO ${e.ledger} (at, principal_id, subject, account_id, kind, amount_micros)
    SELECT ad.ak_now, upd.id, upd.external_subject, upd.account_id, 'charge', ad.ak_cost
    FROM admitted ad JOIN upd ON upd.id = ad.ak_id)`
      : ''
  }
SELECT x.*, busy.ak_busy AS busy FROM busy LEFT JOIN (
  SELECT ad.ak_ord::int AS ord, upd.id, ${DESCRIPTIVE_FIELDS.map((c) => `CASE WHEN ad.ak_known THEN NULL ELSE upd.${c} END AS ${c}`).join(', ')},
    upd.budget_cents, upd.expires_at, upd.used_micros, upd.budget_reset_at, upd.held_micros,
    acct.account_limit_cents, acct.account_used_micros, acct.account_reset_at, acct.account_held_micros, ${BATCH_RATE}
  FROM ranked ad JOIN upd ON upd.id = ad.ak_id LEFT JOIN acct ON acct.ak_account = ad.ak_capped_account) x ON true`;

  const plain = ledger
    ? {
        full: perSelector((by) => withLedger(by, passed)),
        slim: perSelector((by) => withLedger(by, slim)),
      }
    : {
        full: perSelector((by) => withoutLedger(by, passed)),
        slim: perSelector((by) => withoutLedger(by, slim)),
      };
  const account = perSelector(accountSql);
  const batch = perSelector((by) => batchSql(by));
  const waiting = perSelector((by) => batchSql(by, batchLocks(bound, true)));
  return {
    plain: (by, slim) => (slim ? plain.slim : plain.full)[by],
    account: (by) => account[by],
    batch: (by, wait) => (wait ? waiting : batch)[by],
  };
}
