import { type Statement, statement } from '../db/queryable.js';
import { ms, PASSED_COLUMNS, perSelector, type Selector } from './columns.js';
import { fitsHeld, rowSql, STORED_USED_MICROS } from './expressions.js';
import type { TableNames } from './identifier.js';
import { engineNames } from './names.js';
import { rateFree } from './rate-rules.js';
import { batchLocks, type LockBound, MARK, requestsTable, SOME_UNLOCKED } from './requests.js';
import { capFits, capHolds, centsOf, elapsed, heldMicrosNow, OPEN } from './rules.js';

/** Keys the lean statements serve: no pool parent, no account ceiling (and no rate limit: below). */
const LEAN_SHAPE = 'pool_parent_id IS NULL AND account_capped = false';

/**
 * The lean hold statements: a reserve on a key with no pool parent and no account ceiling, and a
 * settle or release whose cost fits inside its hold. Each comes for one request and for a batch
 * (budget/holds.ts folds concurrent calls into one statement). Anything they do not take — a
 * refusal, a pooled or capped key, an elapsed period, a cost above the hold — returns no row and
 * goes to the engine function, which locks what it touches and says why.
 *
 * Lock order is every writer's: key rows, then holds. The batch forms never wait on a row lock
 * (SKIP LOCKED), so one slow lock holder cannot stall the calls that share a statement; their
 * `wait` forms do (in id order, within the lock bound), for calls on a key that was busy.
 */
export interface HoldStatements {
  /**
   * $1 selector value, $2 now, $3 cost micros, $4 scope, $5 token grant, $6 hold micros, $7 hold
   * expiry, $8 request id (claimed when the hold is taken: sql/requests.ts).
   */
  reserve(by: Selector): Statement;
  /**
   * The same, each parameter an array (one element per request). Rows carry `ord` (1-based) for
   * each request taken, and every row `busy`: the ords whose key another transaction had locked.
   */
  reserveBatch(by: Selector, wait?: boolean): Statement;
  /** $1 hold id, $2 now, $3 cost micros (≤ the hold), $4 settle (else release), $5 request id. */
  close: Statement;
  /** The same, each parameter an array; rows as `reserveBatch`'s. */
  closeBatch: Statement;
  /** `closeBatch`, waiting for locked keys. */
  closeBatchWait: Statement;
}

export function holdStatements(t: TableNames, ledger: boolean, bound: LockBound): HoldStatements {
  const e = engineNames(t);
  // Rate-limited rows (the key's or its account's) are the engine's: it counts their windows.
  const LEAN_KEY = `${LEAN_SHAPE} AND ${rateFree(e.accounts, t.keys)}`;
  // The claim: a plain INSERT after the write, so a tombstone already there rolls the call back.
  // Every claim records its key's period mark (sql/requests.ts): a void refunds only that period.
  const claim = (rows: string) => `,
  claim AS (INSERT INTO ${requestsTable(t)} (request_id, at, kind, principal_id, charged_micros, hold_id, key_mark)
    ${rows})`;
  const one = rowSql('$2::timestamptz', '$4::text');
  // A batch row's columns carry an ak_ prefix: they share the UPDATE's scope with the keys table's.
  const many = rowSql('r.ak_now', 'r.ak_scope');
  // What each passed call leaves held on its key, this statement's own hold opened or closed.
  const passed = (now: string) =>
    `${PASSED_COLUMNS}, ${heldMicrosNow(e.holds, t.keys, now)}::float8 AS held_micros`;
  const used = (delta: string) => `budget_used_micros = ${STORED_USED_MICROS} + ${delta},
    budget_used_cents = ${centsOf(`${STORED_USED_MICROS} + ${delta}`)}`;

  const ledgerCte = (rows: string) =>
    ledger
      ? `,
  led AS (INSERT INTO ${e.ledger} (at, principal_id, subject, account_id, kind, amount_micros, hold_id)
    ${rows})`
      : '';

  const reserveSql = (by: Selector) => `WITH ${bound.cte}, upd AS (
  UPDATE ${t.keys} SET ${used('$3::bigint')},
    held_micros = held_micros + $6::bigint,
    last_used_at = CASE WHEN ${one.STALE} THEN ${one.NOW} ELSE last_used_at END
  WHERE ${by} = $1 AND ${bound.guard} AND $5::boolean AND ${one.LIVE} AND ${one.SCOPE_OK} AND NOT ${one.ELAPSED}
    AND ${fitsHeld('$3::bigint + $6::bigint')} AND ${LEAN_KEY}
  RETURNING ${passed(one.NOW)}, ${MARK}),
  hold AS (INSERT INTO ${e.holds} (principal_id, account_id, amount_micros, created_at, expires_at)
    SELECT id, account_id, $6::bigint, ${one.NOW}, $7::timestamptz FROM upd RETURNING id, amount_micros, expires_at)${claim(
      `SELECT $8::uuid, ${one.NOW}, 'charge', upd.id, $3::bigint, hold.id, upd.ak_mark FROM upd, hold`,
    )}${ledgerCte(
      `SELECT ${one.NOW}, upd.id, upd.external_subject, upd.account_id, 'charge', $3::bigint, NULL FROM upd WHERE $3::bigint > 0
    UNION ALL
    SELECT ${one.NOW}, upd.id, upd.external_subject, upd.account_id, 'hold', $6::bigint, hold.id FROM upd, hold`,
    )}
SELECT upd.*, hold.id AS hold_id, hold.amount_micros::float8 AS hold_amount_micros,
  ${ms('hold.expires_at')} AS hold_expires_at FROM upd, hold`;

  // The batch's keys are locked first. FOR UPDATE hands back each key's newest version and nobody
  // can change it before this commits, so every decision below rests on what is committed now.
  // SKIP LOCKED: a shared statement never waits on a row lock; a request whose key another
  // transaction holds comes back in `busy` and joins a later batch. Several requests on one key
  // are admitted in arrival order while their running total fits: the first that does not fit,
  // and every later one on that key, go to the engine.
  const reserveBatchSql = (by: Selector, locks = batchLocks(bound, false)) => `WITH ${locks.cte}r AS (
  SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::bigint[], $4::text[], $5::boolean[], $6::bigint[],
    $7::timestamptz[], $8::uuid[]) WITH ORDINALITY AS r(ak_value, ak_now, ak_cost, ak_scope, ak_ok, ak_hold, ak_until, ak_rid, ak_ord)),
  k AS MATERIALIZED (SELECT id, ${by} AS ak_value, revoked_at, expires_at, scopes, budget_reset_at, budget_cents,
      ${STORED_USED_MICROS} AS ak_used, held_micros AS ak_held
    FROM ${t.keys} WHERE ${by} = ANY($1::text[])${locks.guard} AND ${LEAN_KEY} ${locks.lock('id')}),
  busy AS (SELECT array_agg(ak_ord::int) AS ak_busy FROM r WHERE ak_value = ANY(ARRAY(
    SELECT ${by} FROM ${t.keys} WHERE ${SOME_UNLOCKED} AND ${by} = ANY($1::text[]) AND ${LEAN_KEY}
      AND id <> ALL(ARRAY(SELECT id FROM k))))),
  asked AS (SELECT r.*, k.id AS ak_id, k.budget_cents AS ak_cap, k.ak_used + k.ak_held AS ak_taken,
      (sum(r.ak_cost + r.ak_hold) OVER (PARTITION BY k.id ORDER BY r.ak_ord))::bigint AS ak_total
    FROM r JOIN k ON k.ak_value = r.ak_value
    WHERE r.ak_ok AND ${many.LIVE} AND ${many.SCOPE_OK} AND NOT ${many.ELAPSED}),
  admitted AS MATERIALIZED (SELECT asked.*, nextval('${e.holdIds}'::regclass) AS ak_hold_id
    FROM asked WHERE ${capFits('ak_cap', 'ak_taken', 'ak_total')}),
  per_key AS (SELECT ak_id, sum(ak_cost)::bigint AS ak_cost, sum(ak_hold)::bigint AS ak_hold, max(ak_now) AS ak_now
    FROM admitted GROUP BY ak_id),
  upd AS (UPDATE ${t.keys} SET ${used('p.ak_cost')},
    held_micros = held_micros + p.ak_hold,
    last_used_at = CASE WHEN ${rowSql('p.ak_now', 'NULL').STALE} THEN p.ak_now ELSE last_used_at END
  FROM per_key p WHERE id = p.ak_id
  RETURNING ${passed('p.ak_now')}, ${MARK}),
  hold AS (INSERT INTO ${e.holds} (id, principal_id, account_id, amount_micros, created_at, expires_at)
    SELECT a.ak_hold_id, upd.id, upd.account_id, a.ak_hold, a.ak_now, a.ak_until FROM admitted a JOIN upd ON upd.id = a.ak_id)${claim(
      `SELECT a.ak_rid, a.ak_now, 'charge', a.ak_id, a.ak_cost, a.ak_hold_id, upd.ak_mark FROM admitted a JOIN upd ON upd.id = a.ak_id`,
    )}${ledgerCte(
      `SELECT a.ak_now, upd.id, upd.external_subject, upd.account_id, 'charge', a.ak_cost, NULL
      FROM admitted a JOIN upd ON upd.id = a.ak_id WHERE a.ak_cost > 0
    UNION ALL
    SELECT a.ak_now, upd.id, upd.external_subject, upd.account_id, 'hold', a.ak_hold, a.ak_hold_id
      FROM admitted a JOIN upd ON upd.id = a.ak_id`,
    )}
SELECT x.*, busy.ak_busy AS busy FROM busy LEFT JOIN (
  SELECT a.ak_ord::int AS ord, upd.*, a.ak_hold_id AS hold_id, a.ak_hold::float8 AS hold_amount_micros,
    ${ms('a.ak_until')} AS hold_expires_at
  FROM admitted a JOIN upd ON upd.id = a.ak_id) x ON true`;

  // The key's cap still holds once this hold's amount gives way to its cost (`k`: the locked key).
  // Each hold checked alone is enough for several closed together: every one frees at least its cost.
  const fitsCap = (amount: string, cost: string) => capHolds('k.ak_cap', `k.ak_taken - ${amount} + ${cost}`);

  const closeKind = (settle: string) => `CASE WHEN ${settle} THEN 'settle' ELSE 'release' END`;

  // Lock the key first (the engine's order: key, then hold), close the hold only if the cost fits
  // inside it and under the key's cap as it is now — a cap lowered since the hold was taken is the
  // engine's to enforce, with a shortfall — and charge.
  const closeSql = `WITH ${bound.cte}, kl AS (
    SELECT id, budget_cents AS ak_cap, ${STORED_USED_MICROS} + held_micros AS ak_taken FROM ${t.keys}
    WHERE id = (SELECT principal_id FROM ${e.holds} WHERE id = $1::bigint) AND ${bound.guard}
      AND ${LEAN_KEY} AND NOT ${one.ELAPSED}
    FOR UPDATE),
  h AS (UPDATE ${e.holds} x SET state = CASE WHEN $4::boolean THEN 'settled' ELSE 'released' END,
      settled_micros = $3::bigint, closed_at = ${one.NOW}
    FROM kl k
    WHERE x.id = $1::bigint AND x.principal_id = k.id AND x.state = ${OPEN} AND x.expires_at > ${one.NOW}
      AND x.amount_micros >= $3::bigint AND ${fitsCap('x.amount_micros', '$3::bigint')}
    RETURNING x.id, x.amount_micros, x.expires_at),
  upd AS (UPDATE ${t.keys} SET ${used('$3::bigint')},
      held_micros = GREATEST(held_micros - (SELECT amount_micros FROM h), 0)
    WHERE id = (SELECT id FROM kl) AND EXISTS (SELECT 1 FROM h)
    RETURNING ${passed(one.NOW)}, ${MARK})${claim(
      `SELECT $5::uuid, ${one.NOW}, ${closeKind('$4::boolean')}, upd.id, $3::bigint, h.id, upd.ak_mark FROM upd, h`,
    )}${ledgerCte(
      `SELECT ${one.NOW}, upd.id, upd.external_subject, upd.account_id, ${closeKind('$4::boolean')}, $3::bigint, h.id FROM upd, h`,
    )}
SELECT upd.*, h.id AS hold_id, $3::float8 AS charged_micros, 0::float8 AS shortfall_micros,
  h.amount_micros::float8 AS hold_amount_micros, ${ms('h.expires_at')} AS hold_expires_at FROM upd, h`;

  // The holds' keys are locked first, SKIP LOCKED as above (a close whose key is held elsewhere
  // comes back in `busy`); FOR UPDATE hands back each key's newest version, so the period check
  // sees what is committed now, and holds only change under their key's lock, so none of these
  // waits either. Several holds of one key close in one step: the key is charged their sum once.
  const closeBatchSql = (locks = batchLocks(bound, false)) => `WITH ${locks.cte}r AS (
  SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::bigint[], $4::boolean[], $5::uuid[])
    WITH ORDINALITY AS r(ak_hold, ak_now, ak_cost, ak_settle, ak_rid, ak_ord)),
  first AS (SELECT DISTINCT ON (ak_hold) * FROM r ORDER BY ak_hold, ak_ord),
  owner AS MATERIALIZED (SELECT id, principal_id FROM ${e.holds} WHERE id = ANY($1::bigint[])),
  locked AS MATERIALIZED (SELECT id, budget_reset_at, budget_cents AS ak_cap, ${STORED_USED_MICROS} + held_micros AS ak_taken
    FROM ${t.keys}
    WHERE id = ANY(ARRAY(SELECT principal_id FROM owner))${locks.guard} AND ${LEAN_KEY} ${locks.lock('id')}),
  busy AS (SELECT array_agg(r.ak_ord::int) AS ak_busy FROM first r JOIN owner o ON o.id = r.ak_hold
    WHERE o.principal_id = ANY(ARRAY(SELECT id FROM ${t.keys} WHERE id = ANY(ARRAY(SELECT principal_id FROM owner))
      AND ${LEAN_KEY} AND id <> ALL(ARRAY(SELECT id FROM locked))))),
  h AS (UPDATE ${e.holds} x SET state = CASE WHEN r.ak_settle THEN 'settled' ELSE 'released' END,
      settled_micros = r.ak_cost, closed_at = r.ak_now
    FROM first r, locked k
    WHERE x.id = ANY($1::bigint[]) AND x.id = r.ak_hold AND x.principal_id = k.id
      AND NOT ${elapsed('k.budget_reset_at', 'r.ak_now')}
      AND x.state = ${OPEN} AND x.expires_at > r.ak_now AND x.amount_micros >= r.ak_cost
      AND ${fitsCap('x.amount_micros', 'r.ak_cost')}
    RETURNING x.id, x.principal_id, x.amount_micros, x.expires_at, r.ak_ord, r.ak_now, r.ak_cost, r.ak_settle, r.ak_rid),
  per_key AS (SELECT principal_id AS ak_id, sum(ak_cost)::bigint AS ak_cost, sum(amount_micros)::bigint AS ak_amount,
      max(ak_now) AS ak_now
    FROM h GROUP BY principal_id),
  upd AS (UPDATE ${t.keys} SET ${used('p.ak_cost')}, held_micros = GREATEST(held_micros - p.ak_amount, 0)
    FROM per_key p WHERE id = p.ak_id
    RETURNING ${passed('p.ak_now')}, ${MARK})${claim(
      `SELECT h.ak_rid, h.ak_now, ${closeKind('h.ak_settle')}, h.principal_id, h.ak_cost, h.id, upd.ak_mark FROM h JOIN upd ON upd.id = h.principal_id`,
    )}${ledgerCte(
      `SELECT h.ak_now, upd.id, upd.external_subject, upd.account_id, ${closeKind('h.ak_settle')}, h.ak_cost, h.id
      FROM h JOIN upd ON upd.id = h.principal_id`,
    )}
SELECT x.*, busy.ak_busy AS busy FROM busy LEFT JOIN (
  SELECT h.ak_ord::int AS ord, upd.*, h.id AS hold_id, h.ak_cost::float8 AS charged_micros,
    0::float8 AS shortfall_micros, h.amount_micros::float8 AS hold_amount_micros,
    ${ms('h.expires_at')} AS hold_expires_at
  FROM h JOIN upd ON upd.id = h.principal_id) x ON true`;

  const reserve = perSelector(reserveSql);
  const reserveBatch = perSelector((by) => reserveBatchSql(by));
  const reserveWait = perSelector((by) => reserveBatchSql(by, batchLocks(bound, true)));
  return {
    reserve: (by) => reserve[by],
    reserveBatch: (by, wait) => (wait ? reserveWait : reserveBatch)[by],
    close: statement(closeSql),
    closeBatch: statement(closeBatchSql()),
    closeBatchWait: statement(closeBatchSql(batchLocks(bound, true))),
  };
}
