import type { EngineNames } from './engine.js';
import type { TableNames } from './identifier.js';

/**
 * In-doubt calls: every charge, hold, settle and release carries a request id (a UUID the library
 * makes per call). The statement that commits the call's effect also inserts a claim row for that
 * id — a plain INSERT, after the write and only when the write happened — into a table whose
 * primary key is the id. A call whose answer was lost (a timeout, a dropped connection) is later
 * resolved by `void_request`, which inserts a tombstone for the same id:
 *
 * - the tombstone goes in: the call's statement never committed, and now never can — if it is
 *   still running, or runs later (a frozen server resuming, a query still queued in the pool),
 *   its claim INSERT hits the tombstone and the whole statement rolls back;
 * - the tombstone conflicts: the call committed; its claim row says what it did, and a
 *   compensating ledger entry (`void`) reverses it in the same transaction as the counters.
 *
 * A unique index decides this, not a snapshot: INSERT … ON CONFLICT waits for an in-progress
 * conflicting insert and sees a committed one whatever the statement's snapshot. A re-check such
 * as `NOT EXISTS (…)` in an UPDATE's WHERE would read an old snapshot and let a late commit through.
 */
export function requestsTable(t: TableNames): string {
  return t.derived('_requests');
}

/** DDL: the claims table and the void function. Run with the engine's migration. */
/** A counter row's period mark, as claims record it (row variable or table alias `v`). */
export function mark(v: string): string {
  const c = v ? `${v}.` : '';
  return markOf(`${c}budget_resets`, `${c}budget_reset_at`);
}

/** The mark of a counter with this reset count and reset date (an admin reset records what it zeroed). */
export function markOf(resets: string, resetAt: string): string {
  return `(${resets} || '@' || COALESCE((date_part('epoch', ${resetAt}) * 1000)::text, '-'))`;
}

/**
 * Whether a counter row (variable `v`) is still in the period a claim's mark names. A row with no
 * reset date left had its period removed: that kept the spend unless it also counted a restart,
 * so only the count is compared. A claim with no reset date on a row that has one now: the date
 * was filled in without zeroing (a hand-written row, sql/admin.ts periodSets); the charge is still
 * counted while the row's current period began no later than the charge. (A month counts as 28
 * days here: a shorter window only ever refuses a refund, never grants one after a roll.)
 */
function samePeriod(claimMark: string, v: string): string {
  const count = `split_part(${claimMark}, '@', 1) = ${v}.budget_resets::text`;
  const length = `(CASE ${v}.budget_period WHEN 'week' THEN interval '7 days' WHEN 'month' THEN interval '28 days'
        ELSE interval '1 day' END)`;
  return `(${claimMark} IS NULL OR ${claimMark} = ${mark(v)}
      OR (${v}.budget_reset_at IS NULL AND ${count})
      OR (split_part(${claimMark}, '@', 2) = '-' AND ${count} AND ${v}.budget_reset_at - ${length} <= c.at))`;
}

/** A RETURNING column: the written row's period mark, for the claim of the same statement. */
export const MARK = `${mark('')} AS ak_mark`;

export function requestsSql(t: TableNames, n: EngineNames, usedOf: (v: string) => string): string {
  const r = requestsTable(t);
  const undo = `jsonb_build_object('request_id', v_origin, 'undoes', 'reset', 'voided_at', p_now)`;
  // An admin reset's adjust row that zeroed the counter (`whose`) in the period `claimMark` names.
  const zeroedBy = (claimMark: string, whose: string) => `EXISTS (SELECT 1 FROM ${n.ledger}
        WHERE ${whose} AND kind = 'adjust' AND metadata->>'zeroed' = ${claimMark})`;
  return `
CREATE TABLE IF NOT EXISTS ${r} (
  request_id UUID PRIMARY KEY,
  at TIMESTAMPTZ NOT NULL,
  kind TEXT NOT NULL,
  principal_id INTEGER,
  pool_id INTEGER,
  account_id TEXT,
  charged_micros BIGINT NOT NULL DEFAULT 0,
  hold_id BIGINT,
  idempotency_key TEXT,
  origin UUID,
  voided_at TIMESTAMPTZ
);
ALTER TABLE ${r} ADD COLUMN IF NOT EXISTS origin UUID;
-- What identified each counter's period when the call charged it: its reset date (epoch ms, as
-- the statements return it) and its reset count. A void refunds a counter only while both still
-- match: a period that rolled, or an admin reset, already dropped the charge from that counter.
ALTER TABLE ${r} ADD COLUMN IF NOT EXISTS key_mark TEXT, ADD COLUMN IF NOT EXISTS pool_mark TEXT,
  ADD COLUMN IF NOT EXISTS account_mark TEXT;
ALTER TABLE ${t.keys} ADD COLUMN IF NOT EXISTS budget_resets INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ${n.accounts} ADD COLUMN IF NOT EXISTS budget_resets INTEGER NOT NULL DEFAULT 0;
COMMENT ON COLUMN ${t.keys}.budget_resets IS 'agentkey: how many admin resets zeroed this counter (claims record it: a void refunds only the period it charged)';
COMMENT ON COLUMN ${r}.origin IS 'agentkey: for a replay of an idempotency key, the request whose effect it replayed';
CREATE INDEX IF NOT EXISTS ${t.index('_requests_origin_idx')} ON ${r} (origin) WHERE origin IS NOT NULL;
COMMENT ON TABLE ${r} IS 'agentkey: one claim per committed charge, hold, settle or release (kind), or a tombstone for a call answered unavailable that never committed; rows older than a day are pruned';
COMMENT ON COLUMN ${r}.account_id IS 'agentkey: the account whose counter the call charged (under a ceiling), else NULL';
CREATE INDEX IF NOT EXISTS ${t.index('_requests_at_brin')} ON ${r} USING brin (at);
ALTER TABLE ${n.idempotency} ADD COLUMN IF NOT EXISTS request_id UUID;
COMMENT ON COLUMN ${n.idempotency}.request_id IS 'agentkey: the request that made this key''s effect';

-- Resolves one in-doubt request: 'not_committed' (tombstoned: it never will), 'voided' (it had
-- committed: reversed now), 'stands' (voided, but another request that saw the same effect —
-- the first call of an idempotency key, or a replay of it — is not, and may have been answered
-- ok: the effect is reversed by the last of them to be voided) or 'resolved' (already done).
CREATE OR REPLACE FUNCTION ${n.fn('void_request')}(p_rid uuid, p_now timestamptz, p_ledger boolean, p_lock_ms integer)
  RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
  c ${r}%ROWTYPE;
  h ${n.holds}%ROWTYPE;
  k ${t.keys}%ROWTYPE;
  p ${t.keys}%ROWTYPE;
  a ${n.accounts}%ROWTYPE;
  v_op text;
  v_origin uuid;
  v_refund bigint := 0;
  v_used bigint;
  v_reopened boolean := false;
BEGIN
  PERFORM set_config('lock_timeout', p_lock_ms || 'ms', true);
  INSERT INTO ${r} (request_id, at, kind) VALUES (p_rid, p_now, 'tombstone') ON CONFLICT DO NOTHING;
  IF FOUND THEN RETURN 'not_committed'; END IF;
  SELECT * INTO c FROM ${r} WHERE request_id = p_rid;
  IF c.kind = 'tombstone' OR c.voided_at IS NOT NULL THEN RETURN 'resolved'; END IF;
  v_op := c.kind;
  v_origin := COALESCE(c.origin, c.request_id);
  -- The idempotency claim first, as the engine takes it: replays of the key wait for this.
  IF c.idempotency_key IS NOT NULL THEN
    PERFORM 1 FROM ${n.idempotency} WHERE principal_id = c.principal_id AND op = v_op AND key = c.idempotency_key
      FOR UPDATE;
  END IF;
  SELECT * INTO c FROM ${r} WHERE request_id = p_rid FOR UPDATE;
  IF c.voided_at IS NOT NULL THEN RETURN 'resolved'; END IF;
  UPDATE ${r} SET voided_at = p_now WHERE request_id = p_rid;
  IF EXISTS (SELECT 1 FROM ${r} WHERE (request_id = v_origin OR origin = v_origin) AND voided_at IS NULL) THEN
    RETURN 'stands';
  END IF;
  -- Every request that saw the effect was voided: none was answered. Reverse what the first did.
  SELECT * INTO c FROM ${r} WHERE request_id = v_origin;
  -- Locks in the engine's order: pool parent, key, account, hold.
  IF c.pool_id IS NOT NULL THEN SELECT * INTO p FROM ${t.keys} WHERE id = c.pool_id FOR UPDATE; END IF;
  SELECT * INTO k FROM ${t.keys} WHERE id = c.principal_id FOR UPDATE;
  IF c.hold_id IS NOT NULL THEN SELECT * INTO h FROM ${n.holds} WHERE id = c.hold_id; END IF;
  IF COALESCE(c.account_id, h.account_id) IS NOT NULL THEN
    SELECT * INTO a FROM ${n.accounts} WHERE account_id = COALESCE(c.account_id, h.account_id) FOR UPDATE;
  END IF;
  IF c.hold_id IS NOT NULL THEN SELECT * INTO h FROM ${n.holds} WHERE id = c.hold_id FOR UPDATE; END IF;

  -- A charge, or a settle's charge, comes off every counter that still holds it: one still in
  -- the period it landed in, with no reset since (the claim's marks). A counter that moved on
  -- already dropped it; refunding the new period would let it overspend (Guarantee 1).
  IF c.kind IN ('charge', 'settle') AND c.charged_micros > 0 THEN
    v_refund := c.charged_micros;
    IF k.id IS NOT NULL AND ${samePeriod('c.key_mark', 'k')} THEN
      v_used := GREATEST(${usedOf('k')} - v_refund, 0);
      UPDATE ${t.keys} SET budget_used_micros = v_used,
          budget_used_cents = LEAST((v_used + 9999) / 10000, 2147483647)::int WHERE id = k.id;
      k.budget_used_micros := v_used;
    END IF;
    IF p.id IS NOT NULL AND ${samePeriod('c.pool_mark', 'p')} THEN
      v_used := GREATEST(${usedOf('p')} - v_refund, 0);
      UPDATE ${t.keys} SET budget_used_micros = v_used,
          budget_used_cents = LEAST((v_used + 9999) / 10000, 2147483647)::int WHERE id = p.id;
      p.budget_used_micros := v_used;
    END IF;
    IF c.account_id IS NOT NULL AND a.account_id IS NOT NULL AND ${samePeriod('c.account_mark', 'a')} THEN
      v_used := GREATEST(${usedOf('a')} - v_refund, 0);
      UPDATE ${n.accounts} SET budget_used_micros = v_used,
          budget_used_cents = LEAST((v_used + 9999) / 10000, 2147483647)::int, updated_at = p_now
        WHERE account_id = a.account_id;
      a.budget_used_micros := v_used;
    END IF;
  END IF;
  -- A hold it took and that is still open stops counting.
  IF c.kind = 'charge' AND h.id IS NOT NULL AND h.state = 'open' THEN
    UPDATE ${n.holds} SET state = 'voided', closed_at = p_now WHERE id = h.id;
    UPDATE ${t.keys} SET held_micros = GREATEST(held_micros - h.amount_micros, 0)
      WHERE id = h.principal_id OR id = h.pool_id;
    IF a.account_id IS NOT NULL THEN
      UPDATE ${n.accounts} SET held_micros = (SELECT COALESCE(sum(amount_micros), 0) FROM ${n.holds}
        WHERE account_id = a.account_id AND state = 'open') WHERE account_id = a.account_id;
    END IF;
  END IF;
  -- A settle answered unavailable never happened: its hold is open again, so the retry settles it
  -- as the first call would have — if the hold is live and still fits every cap now (something
  -- may have taken the room since: then it stays closed, and nothing is charged).
  IF c.kind = 'settle' AND h.id IS NOT NULL AND h.state = 'settled' AND h.expires_at > p_now
      AND (k.budget_cents IS NULL OR ${usedOf('k')} + k.held_micros + h.amount_micros <= k.budget_cents::bigint * 10000)
      AND (p.id IS NULL OR p.budget_cents IS NULL
        OR ${usedOf('p')} + p.held_micros + h.amount_micros <= p.budget_cents::bigint * 10000)
      AND (a.account_id IS NULL OR a.budget_cents IS NULL OR ${usedOf('a')} + h.amount_micros
        + (SELECT COALESCE(sum(amount_micros), 0) FROM ${n.holds} WHERE account_id = a.account_id AND state = 'open')
        <= a.budget_cents::bigint * 10000) THEN
    UPDATE ${n.holds} SET state = 'open', settled_micros = NULL, closed_at = NULL WHERE id = h.id;
    UPDATE ${t.keys} SET held_micros = held_micros + h.amount_micros WHERE id = h.principal_id OR id = h.pool_id;
    IF a.account_id IS NOT NULL THEN
      UPDATE ${n.accounts} SET held_micros = (SELECT COALESCE(sum(amount_micros), 0) FROM ${n.holds}
        WHERE account_id = a.account_id AND state = 'open') WHERE account_id = a.account_id;
    END IF;
    v_reopened := true;
  ELSIF c.kind = 'settle' AND h.id IS NOT NULL AND h.state = 'settled' THEN
    UPDATE ${n.holds} SET state = 'voided', settled_micros = 0 WHERE id = h.id;
  END IF;
  -- Stamped at the call's own time: the void nets the charge out of the period it landed in, and
  -- every later period's ledger still equals its counter.
  IF p_ledger AND k.id IS NOT NULL THEN
    INSERT INTO ${n.ledger} (at, principal_id, subject, account_id, kind, amount_micros, idempotency_key, hold_id, metadata)
      VALUES (c.at, k.id, k.external_subject, k.account_id, 'void', -v_refund, c.idempotency_key, c.hold_id,
        jsonb_build_object('request_id', v_origin, 'voids', c.kind, 'voided_at', p_now));
    -- A counter an admin reset zeroed while it held this charge (the reset's 'adjust' records the
    -- mark it zeroed): that adjust already took the charge off its sums, and the void takes it off
    -- again; give that back, at the call's time as well. A roll or a new period took nothing.
    IF v_refund > 0 AND ${zeroedBy('c.key_mark', 'principal_id = k.id')} THEN
      INSERT INTO ${n.ledger} (at, principal_id, subject, account_id, kind, amount_micros, metadata)
        VALUES (c.at, k.id, k.external_subject, k.account_id, 'adjust', v_refund, ${undo});
    END IF;
    IF v_refund > 0 AND p.id IS NOT NULL AND ${zeroedBy('c.pool_mark', 'principal_id = p.id')} THEN
      INSERT INTO ${n.ledger} (at, principal_id, subject, account_id, kind, amount_micros, metadata)
        VALUES (c.at, p.id, p.external_subject, p.account_id, 'adjust', v_refund, ${undo});
    END IF;
    IF v_refund > 0 AND c.account_id IS NOT NULL
        AND ${zeroedBy('c.account_mark', 'account_id = a.account_id AND principal_id IS NULL')} THEN
      INSERT INTO ${n.ledger} (at, account_id, kind, amount_micros, metadata)
        VALUES (c.at, a.account_id, 'adjust', v_refund, ${undo});
    END IF;
    IF v_reopened THEN
      INSERT INTO ${n.ledger} (at, principal_id, subject, account_id, kind, amount_micros, hold_id, metadata)
        VALUES (p_now, k.id, k.external_subject, k.account_id, 'hold', h.amount_micros, h.id,
          jsonb_build_object('reopened_by', v_origin));
    END IF;
  END IF;
  -- The caller's idempotency key is given back: a retry with it is judged afresh.
  IF c.idempotency_key IS NOT NULL THEN
    DELETE FROM ${n.idempotency} WHERE principal_id = c.principal_id AND op = v_op AND key = c.idempotency_key
      AND request_id = v_origin;
  END IF;
  RETURN 'voided';
END $f$;`;
}

/** The resolver's statement: $1 request id, $2 now, $3 ledger on, $4 lock timeout (ms). */
export function voidRequestSql(n: EngineNames): string {
  return `SELECT ${n.fn('void_request')}($1::uuid, $2::timestamptz, $3::boolean, $4::integer) AS outcome`;
}

/** Claims and tombstones older than this are pruned: no call stays in doubt that long. */
export const CLAIM_RETENTION = `interval '1 day'`;

/** Deletes old claims in bounded chunks ($1 the store's now, $2 ids still in doubt); returns how many went. */
export function pruneRequestsSql(t: TableNames): string {
  const r = requestsTable(t);
  return `WITH gone AS (DELETE FROM ${r} WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM ${r} WHERE at < $1::timestamptz - ${CLAIM_RETENTION} AND request_id <> ALL($2::uuid[])
    LIMIT 10000)) RETURNING 1)
  SELECT count(*)::int AS n FROM gone`;
}

/**
 * The SQL prefix bounding a statement's row-lock waits on the server: a CTE whose InitPlan sets
 * lock_timeout for this transaction before the first lock is taken (`guard` must appear in the
 * locking statement's WHERE). statement_timeout cannot be bounded this way: PostgreSQL arms it
 * when the statement starts, so a change inside the statement only reaches later statements.
 */
export function lockBound(lockMs: number): { cte: string; guard: string } {
  return {
    cte: `ak_cfg AS MATERIALIZED (SELECT set_config('lock_timeout', '${Math.trunc(lockMs)}ms', true) AS ak_v)`,
    guard: `(SELECT ak_v FROM ak_cfg) IS NOT NULL`,
  };
}

/* The engine functions' side of the claims (sql/engine.ts). */

/** Bounds every lock wait of the function (row locks, advisory locks, claims) on the server. */
export const lockTimeout = `IF p_lock_ms > 0 THEN PERFORM set_config('lock_timeout', p_lock_ms || 'ms', true); END IF;`;

/**
 * The call's claim (requests.ts): a plain INSERT, so a tombstone its resolver put there first
 * aborts the whole call, and nothing it wrote commits.
 */
export function claim(
  t: TableNames,
  kind: string,
  principal: string,
  pool: string,
  account: string,
  charged: string,
  hold: string,
  idem: string,
): string {
  return `INSERT INTO ${requestsTable(t)} (request_id, at, kind, principal_id, pool_id, account_id, charged_micros, hold_id,
          idempotency_key, key_mark, pool_mark, account_mark)
        VALUES (p_rid, p_now, ${kind}, ${principal}, ${pool}, ${account}, ${charged}, ${hold}, ${idem},
          ${mark('k')}, ${mark('p')}, ${mark('a')});`;
}

/**
 * A passed replay records its own claim, naming the first call's (`origin`): its caller may be
 * answered ok, so a void of the first call (or of any replay) leaves the effect standing while
 * any of them is not voided (sql/requests.ts). A tombstone for this request aborts a late replay.
 */
export function replayClaim(t: TableNames, principal: string, op: string): string {
  return `IF v_outcome = 'ok' AND v_orig_rid IS NOT NULL AND v_orig_rid <> p_rid THEN
        INSERT INTO ${requestsTable(t)} (request_id, at, kind, origin, principal_id, idempotency_key)
          VALUES (p_rid, p_now, ${op}, v_orig_rid, ${principal}, p_idem);
      END IF;`;
}
