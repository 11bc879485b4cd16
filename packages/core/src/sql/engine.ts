import { accountHeldMicrosNow, heldMicrosNow, NEXT_RESET } from './expressions.js';
import type { TableNames } from './identifier.js';
import { claim, lockTimeout, replayClaim, requestsSql, requestsTable } from './requests.js';

/**
 * The budget engine's tables and functions, named from the keys table so two deployments in one
 * database never share them.
 *
 * Why PL/pgSQL: holds, pooled children, account ceilings and idempotency each touch more than one
 * row. A single UPDATE whose WHERE reads another table is re-checked under concurrency against the
 * statement's old snapshot, which is how budgets get overspent. Inside a VOLATILE function every
 * statement takes a fresh snapshot, and rows are locked in one fixed order — idempotency claim,
 * key, pool parent, account — so concurrent calls serialise on exactly what they share and never
 * deadlock. One call is one round trip and one transaction.
 */
export interface EngineNames {
  accounts: string;
  holds: string;
  /** The holds table's id sequence (its BIGSERIAL's default name). */
  holdIds: string;
  ledger: string;
  idempotency: string;
  fn(name: string): string;
}

export function engineNames(t: TableNames): EngineNames {
  return {
    accounts: t.derived('_accounts'),
    holds: t.derived('_holds'),
    holdIds: t.derived('_holds_id_seq'),
    ledger: t.derived('_ledger'),
    idempotency: t.derived('_idempotency'),
    fn: (name) => t.derived(`_${name}`),
  };
}

/** Row columns the functions return, in the shape `rows.ts` reads (times in epoch ms). */
const OUT = `outcome text, cap text, hold_id bigint, charged_micros float8, shortfall_micros float8, replayed boolean,
  id integer, account_id text, user_id text, name text, scopes text[], budget_cents integer, budget_period text,
  delegated_by text, external_subject text, expires_at float8, revoked_at float8, used_micros float8,
  held_micros float8, budget_reset_at float8, account_limit_cents integer, account_used_micros float8,
  account_reset_at float8, hold_amount_micros float8, hold_expires_at float8, pool_reset_at float8,
  account_held_micros float8, pool_id integer, pool_budget_cents integer, pool_used_micros float8,
  pool_held_micros float8`;

/** An outcome with no row to report (unknown key, no such hold, a conflicting key): every OUT column. */
const outcomeOnly = (outcome: string, holdId: string) =>
  `RETURN QUERY SELECT '${outcome}'::text, NULL::text, ${holdId}, 0::float8, 0::float8, false,
      NULL::integer, NULL::text, NULL::text, NULL::text, NULL::text[], NULL::integer, NULL::text, NULL::text, NULL::text,
      NULL::float8, NULL::float8, 0::float8, 0::float8, NULL::float8, NULL::integer, NULL::float8, NULL::float8,
      NULL::float8, NULL::float8, NULL::float8, NULL::float8, NULL::integer, NULL::integer, NULL::float8,
      NULL::float8;`;

const ms = (expr: string) => `date_part('epoch', ${expr}) * 1000`;

/**
 * The lock set_account_budget holds while it flags an account's keys, and a key's insert or first
 * charge takes to learn whether its account is capped. Keyed by the accounts table's oid, so every
 * spelling of the table name (`keys`, `public.keys`) takes the same lock.
 */
const accountLock = (n: EngineNames, account: string) =>
  `pg_advisory_xact_lock(hashtextextended('${n.accounts}'::regclass::oid::text || '|' || ${account}, 0))`;

export function engineSql(t: TableNames): string {
  const n = engineNames(t);
  const keys = t.keys;
  return `
ALTER TABLE ${keys}
  ADD COLUMN IF NOT EXISTS held_micros BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS account_capped BOOLEAN,
  ADD COLUMN IF NOT EXISTS pool_parent_id INTEGER;
COMMENT ON COLUMN ${keys}.held_micros IS 'agentkey: open holds on this row and its pooled children (1e-4 cent units); an upper bound, exact sums come from the holds table';
COMMENT ON COLUMN ${keys}.account_capped IS 'agentkey: the account has a ceiling (NULL: not yet known)';

-- A key moved to another account by hand must be re-judged against that account's ceiling.
CREATE OR REPLACE FUNCTION ${n.fn('account_moved')}() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  IF NEW.account_id IS DISTINCT FROM OLD.account_id THEN NEW.account_capped := NULL; END IF;
  RETURN NEW;
END $f$;
DROP TRIGGER IF EXISTS agentkey_account_moved ON ${keys};
CREATE TRIGGER agentkey_account_moved BEFORE UPDATE OF account_id ON ${keys}
  FOR EACH ROW EXECUTE FUNCTION ${n.fn('account_moved')}();

CREATE TABLE IF NOT EXISTS ${n.accounts} (
  account_id TEXT PRIMARY KEY,
  budget_cents INTEGER,
  budget_period TEXT,
  budget_reset_at TIMESTAMPTZ,
  budget_used_cents INTEGER NOT NULL DEFAULT 0,
  budget_used_micros BIGINT NOT NULL DEFAULT 0,
  held_micros BIGINT NOT NULL DEFAULT 0,
  updated_at TIMESTAMPTZ
);
ALTER TABLE ${n.accounts} ADD COLUMN IF NOT EXISTS held_micros BIGINT NOT NULL DEFAULT 0;
COMMENT ON COLUMN ${n.accounts}.held_micros IS 'agentkey: at least the open holds of the account''s keys (an upper bound the engine repairs under the account lock)';

CREATE TABLE IF NOT EXISTS ${n.holds} (
  id BIGSERIAL PRIMARY KEY,
  principal_id INTEGER NOT NULL,
  pool_id INTEGER,
  account_id TEXT,
  amount_micros BIGINT NOT NULL,
  state TEXT NOT NULL DEFAULT 'open',
  created_at TIMESTAMPTZ NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL,
  settled_micros BIGINT,
  closed_at TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS ${t.index('_holds_open_idx')} ON ${n.holds} (principal_id, expires_at) WHERE state = 'open';
CREATE INDEX IF NOT EXISTS ${t.index('_holds_pool_idx')} ON ${n.holds} (pool_id) WHERE state = 'open' AND pool_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS ${t.index('_holds_account_idx')} ON ${n.holds} (account_id) WHERE state = 'open' AND account_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS ${n.ledger} (
  id BIGSERIAL PRIMARY KEY,
  at TIMESTAMPTZ NOT NULL,
  principal_id INTEGER,
  subject TEXT,
  account_id TEXT,
  kind TEXT NOT NULL,
  amount_micros BIGINT NOT NULL DEFAULT 0,
  idempotency_key TEXT,
  hold_id BIGINT,
  actor TEXT,
  metadata JSONB
);
CREATE INDEX IF NOT EXISTS ${t.index('_ledger_principal_idx')} ON ${n.ledger} (principal_id, at);
CREATE INDEX IF NOT EXISTS ${t.index('_ledger_account_idx')} ON ${n.ledger} (account_id, at);

CREATE OR REPLACE FUNCTION ${n.fn('ledger_append_only')}() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  RAISE EXCEPTION 'agentkey ledger is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $f$;
DROP TRIGGER IF EXISTS agentkey_append_only ON ${n.ledger};
CREATE TRIGGER agentkey_append_only BEFORE UPDATE OR DELETE ON ${n.ledger}
  FOR EACH ROW EXECUTE FUNCTION ${n.fn('ledger_append_only')}();
DROP TRIGGER IF EXISTS agentkey_append_only_truncate ON ${n.ledger};
CREATE TRIGGER agentkey_append_only_truncate BEFORE TRUNCATE ON ${n.ledger}
  FOR EACH STATEMENT EXECUTE FUNCTION ${n.fn('ledger_append_only')}();

CREATE TABLE IF NOT EXISTS ${n.idempotency} (
  principal_id INTEGER NOT NULL,
  op TEXT NOT NULL,
  key TEXT NOT NULL,
  hold_id BIGINT,
  charged_micros BIGINT NOT NULL DEFAULT 0,
  shortfall_micros BIGINT NOT NULL DEFAULT 0,
  created_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (principal_id, op, key)
);

-- Whether an account has a ceiling, read after taking the lock set_account_budget holds while it
-- flags keys: a key inserted concurrently with a new ceiling can never miss it. VOLATILE, so the
-- query inside sees what committed while it waited.
CREATE OR REPLACE FUNCTION ${n.fn('account_capped')}(p_account text) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $f$
BEGIN
  IF p_account IS NULL THEN RETURN false; END IF;
  PERFORM ${accountLock(n, 'p_account')};
  RETURN EXISTS (SELECT 1 FROM ${n.accounts} WHERE account_id = p_account AND budget_cents IS NOT NULL);
END $f$;

-- The same reset arithmetic as the request path's SQL and budget/period.ts (a test holds them equal).
CREATE OR REPLACE FUNCTION ${n.fn('next_reset')}(budget_period text, p_now timestamptz, budget_reset_at timestamptz)
  RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $f$ SELECT ${NEXT_RESET} $f$;
-- Return shapes change between versions; CREATE OR REPLACE cannot change them.
DROP FUNCTION IF EXISTS ${n.fn('charge')}(text, timestamptz, bigint, text, boolean, boolean, bigint, timestamptz, text, text, boolean, jsonb);
DROP FUNCTION IF EXISTS ${n.fn('close_hold')}(bigint, timestamptz, bigint, boolean, text, boolean, jsonb);
DROP FUNCTION IF EXISTS ${n.fn('charge')}(text, timestamptz, bigint, text, boolean, boolean, bigint, timestamptz, text, text, boolean, jsonb, uuid, integer);
DROP FUNCTION IF EXISTS ${n.fn('close_hold')}(bigint, timestamptz, bigint, boolean, text, boolean, jsonb, uuid, integer);
${requestsSql(t, n, usedOf)}
${accountFunction(t, n)}
${chargeFunction(t, n)}
${closeHoldFunction(t, n)}
`;
}

/**
 * Sets (or clears) an account's ceiling and flags the account's keys, under an advisory lock the
 * charge function also takes when it first learns whether a key's account is capped.
 */
function accountFunction(t: TableNames, n: EngineNames): string {
  const keptSpend = (column: string, zeroed = '0') => `CASE
        WHEN a.budget_cents IS NULL THEN ${zeroed}
        WHEN a.budget_period IS NOT DISTINCT FROM EXCLUDED.budget_period THEN ${column}
        WHEN EXCLUDED.budget_period IS NULL AND NOT (a.budget_reset_at IS NOT NULL AND a.budget_reset_at <= p_now)
          THEN ${column}
        ELSE ${zeroed} END`;
  return `
CREATE OR REPLACE FUNCTION ${n.fn('set_account_budget')}(p_account text, p_now timestamptz, p_budget integer,
  p_period text, p_reset timestamptz, p_actor text) RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
  PERFORM ${accountLock(n, 'p_account')};
  -- Keys before the account row, in id order: the order every charge locks them in.
  UPDATE ${t.keys} SET account_capped = (p_budget IS NOT NULL) WHERE id IN (
    SELECT id FROM ${t.keys} WHERE account_id = p_account ORDER BY id FOR UPDATE);
  INSERT INTO ${n.accounts} AS a (account_id, budget_cents, budget_period, budget_reset_at, updated_at)
    VALUES (p_account, p_budget, p_period, p_reset, p_now)
    ON CONFLICT (account_id) DO UPDATE SET budget_cents = EXCLUDED.budget_cents,
      budget_period = EXCLUDED.budget_period,
      budget_reset_at = CASE WHEN a.budget_period IS NOT DISTINCT FROM EXCLUDED.budget_period AND a.budget_cents IS NOT NULL
        THEN COALESCE(a.budget_reset_at, EXCLUDED.budget_reset_at) ELSE EXCLUDED.budget_reset_at END,
      -- A ceiling counts spend from when it is set: re-establishing one after it was cleared starts
      -- afresh, and so does a new period (as for keys, sql/admin.ts periodSets); removing the
      -- period keeps the current period's spend, none if it elapsed.
      budget_used_micros = ${keptSpend('a.budget_used_micros')},
      -- Spend started afresh is a new period for the claims' marks (sql/requests.ts).
      budget_resets = a.budget_resets + ${keptSpend('0', '1')},
      budget_used_cents = ${keptSpend('a.budget_used_cents')},
      updated_at = p_now;
  -- Holds taken while the account had no ceiling count against the new one.
  UPDATE ${n.accounts} SET held_micros = (SELECT COALESCE(sum(amount_micros), 0) FROM ${n.holds}
    WHERE account_id = p_account AND state = 'open') WHERE account_id = p_account;
  INSERT INTO ${n.ledger} (at, account_id, kind, actor, metadata)
    VALUES (p_now, p_account, 'admin:account_budget', p_actor,
      jsonb_build_object('budget_cents', p_budget, 'budget_period', p_period));
END $f$;`;
}

/**
 * Charge and/or reserve against a key or subject, its pool parent and its account. Outcomes:
 * ok, unknown, revoked, expired, scope, budget (cap = key | pool | account).
 */
function chargeFunction(t: TableNames, n: EngineNames): string {
  return `
CREATE OR REPLACE FUNCTION ${n.fn('charge')}(p_value text, p_now timestamptz, p_cost bigint, p_scope text,
  p_token_ok boolean, p_by_subject boolean, p_hold bigint, p_hold_until timestamptz, p_idem text, p_op text,
  p_ledger boolean, p_meta jsonb, p_rid uuid, p_lock_ms integer) RETURNS TABLE (${OUT}) LANGUAGE plpgsql AS $f$
#variable_conflict use_column
DECLARE
  k ${t.keys}%ROWTYPE;
  v_try integer;
  v_orig_rid uuid;
  p ${t.keys}%ROWTYPE;
  a ${n.accounts}%ROWTYPE;
  v_id integer;
  v_account text;
  v_capped boolean;
  v_pool integer;
  v_outcome text := 'ok';
  v_cap text;
  v_hold_id bigint;
  v_replayed boolean := false;
  v_k_used bigint;
  v_p_used bigint;
  v_a_used bigint;
  v_k_held bigint := 0;
  v_p_held bigint := 0;
  v_a_held bigint := 0;
  v_orig bigint := 0;
  v_k_reset boolean := false;
  v_need bigint := p_cost + p_hold;
BEGIN
  ${lockTimeout}
  -- Who: read without a lock to learn the row and its account.
  IF p_by_subject THEN
    SELECT x.id, x.account_id, x.account_capped, x.pool_parent_id INTO v_id, v_account, v_capped, v_pool
      FROM ${t.keys} x WHERE x.external_subject = p_value;
  ELSE
    SELECT x.id, x.account_id, x.account_capped, x.pool_parent_id INTO v_id, v_account, v_capped, v_pool
      FROM ${t.keys} x WHERE x.key_hash = p_value;
  END IF;
  IF v_id IS NULL THEN
    ${outcomeOnly('unknown', 'NULL::bigint')}
    RETURN;
  END IF;

  -- Exactly once: claim the idempotency key first. A concurrent duplicate waits here on the
  -- primary key until this transaction ends, then finds the claim and replays its outcome. The
  -- claim is read FOR UPDATE: a void in progress (requests.ts) gives the key back, and then the
  -- key is claimed afresh.
  IF p_idem IS NOT NULL THEN
    FOR v_try IN 1..3 LOOP
      INSERT INTO ${n.idempotency} (principal_id, op, key, created_at, request_id) VALUES (v_id, p_op, p_idem, p_now, p_rid)
        ON CONFLICT DO NOTHING;
      EXIT WHEN FOUND;
      SELECT i.hold_id, i.charged_micros, i.request_id INTO v_hold_id, v_orig, v_orig_rid FROM ${n.idempotency} i
        WHERE i.principal_id = v_id AND i.op = p_op AND i.key = p_idem FOR UPDATE;
      IF FOUND THEN
        v_replayed := true;
        p_cost := 0; p_hold := 0; v_need := 0;
        EXIT;
      END IF;
      IF v_try = 3 THEN RAISE EXCEPTION 'agentkey: idempotency key % keeps changing hands', p_idem USING ERRCODE = '40001'; END IF;
    END LOOP;
  END IF;

  -- Whether the account has a ceiling is settled under the lock set_account_budget takes.
  IF v_capped IS NULL AND v_account IS NOT NULL THEN
    PERFORM ${accountLock(n, 'v_account')};
  END IF;

  -- Row locks in id order (a pool parent is older than its children), then the account.
  IF v_pool IS NOT NULL THEN
    SELECT * INTO p FROM ${t.keys} x WHERE x.id = v_pool FOR UPDATE;
  END IF;
  SELECT * INTO k FROM ${t.keys} x WHERE x.id = v_id FOR UPDATE;
  IF NOT FOUND THEN
    -- Deleted between the first read and the lock: unknown, never a pass.
    IF p_idem IS NOT NULL AND NOT v_replayed THEN
      DELETE FROM ${n.idempotency} WHERE principal_id = v_id AND op = p_op AND key = p_idem;
    END IF;
    ${outcomeOnly('unknown', 'NULL::bigint')}
    RETURN;
  END IF;
  IF k.account_capped IS NULL THEN
    k.account_capped := k.account_id IS NOT NULL AND EXISTS (
      SELECT 1 FROM ${n.accounts} WHERE account_id = k.account_id AND budget_cents IS NOT NULL);
    UPDATE ${t.keys} SET account_capped = k.account_capped WHERE id = k.id;
  END IF;

  -- Period resets, in the same transaction as the charge.
  ${usedNow(n, 'k', 'v_k_used', 'v_k_reset := true;')}

  IF p.id IS NOT NULL THEN
    ${usedNow(n, 'p', 'v_p_used')}
  END IF;

  -- Holds past their TTL stop counting: every sum below reads only unexpired open holds, under the
  -- locks that every hold change also takes, so no sweeper is needed. This key's own expired holds
  -- are closed here as well (lazy cleanup).
  IF k.held_micros > 0 THEN
    PERFORM ${n.fn('expire_holds')}(k.id, k.pool_parent_id, p_now, p_ledger);
    SELECT x.held_micros INTO k.held_micros FROM ${t.keys} x WHERE x.id = k.id;
  END IF;
  -- A pool parent's own cap also carries its pooled children's holds.
  v_k_held := CASE WHEN k.held_micros = 0 THEN 0 ELSE (SELECT COALESCE(sum(amount_micros), 0) FROM ${n.holds}
    WHERE (principal_id = k.id OR pool_id = k.id) AND state = 'open' AND expires_at > p_now) END;
  IF p.id IS NOT NULL THEN
    v_p_held := (SELECT COALESCE(sum(amount_micros), 0) FROM ${n.holds}
      WHERE (principal_id = p.id OR pool_id = p.id) AND state = 'open' AND expires_at > p_now);
  END IF;

  -- A replay is still a request: revocation, expiry and scope bind it as they bind any other (an
  -- old idempotency key must never open a door). Only the budget was settled by the first call.
  IF k.revoked_at IS NOT NULL OR (k.pool_parent_id IS NOT NULL AND (p.id IS NULL OR p.revoked_at IS NOT NULL))
    THEN v_outcome := 'revoked';
  ELSIF (k.expires_at IS NOT NULL AND k.expires_at <= p_now) OR (p.id IS NOT NULL AND p.expires_at IS NOT NULL AND p.expires_at <= p_now) THEN v_outcome := 'expired';
  ELSIF NOT p_token_ok OR NOT (p_scope IS NULL OR k.scopes IS NULL OR p_scope = ANY(k.scopes) OR 'admin' = ANY(k.scopes)) THEN v_outcome := 'scope';
  ELSIF v_replayed THEN NULL;
  ELSIF k.budget_cents IS NOT NULL AND (v_k_used + v_k_held + v_need > k.budget_cents::bigint * 10000
      OR v_k_used + v_k_held >= k.budget_cents::bigint * 10000) THEN v_outcome := 'budget'; v_cap := 'key';
  ELSIF p.id IS NOT NULL AND p.budget_cents IS NOT NULL AND (v_p_used + v_p_held + v_need > p.budget_cents::bigint * 10000
      OR v_p_used + v_p_held >= p.budget_cents::bigint * 10000) THEN v_outcome := 'budget'; v_cap := 'pool';
  END IF;

  -- The account row is the most contended lock (every key of the account wants it): take it last,
  -- only when every other check passed, and hold it just through the writes below.
  IF k.account_capped AND v_outcome = 'ok' THEN
    SELECT * INTO a FROM ${n.accounts} x WHERE x.account_id = k.account_id FOR UPDATE;
    ${usedNow(n, 'a', 'v_a_used')}
    IF a.budget_cents IS NOT NULL THEN
      -- Summed for a replay too: its answer reports what the account holds now.
      v_a_held := (SELECT COALESCE(sum(amount_micros), 0) FROM ${n.holds}
        WHERE account_id = k.account_id AND state = 'open' AND expires_at > p_now);
      IF NOT v_replayed AND (v_a_used + v_a_held + v_need > a.budget_cents::bigint * 10000 OR v_a_used + v_a_held >= a.budget_cents::bigint * 10000) THEN
        v_outcome := 'budget'; v_cap := 'account';
      END IF;
    END IF;
  END IF;

  IF v_outcome <> 'ok' THEN
    -- Nothing charged: give the idempotency key back so a retry is judged afresh (a refused
    -- replay keeps the first call's claim).
    IF p_idem IS NOT NULL AND NOT v_replayed THEN
      DELETE FROM ${n.idempotency} WHERE principal_id = v_id AND op = p_op AND key = p_idem;
    END IF;
  ELSE
    IF p_hold > 0 THEN
      INSERT INTO ${n.holds} (principal_id, pool_id, account_id, amount_micros, created_at, expires_at)
        VALUES (k.id, p.id, k.account_id, p_hold, p_now, p_hold_until)
        RETURNING id INTO v_hold_id;
    END IF;
    -- A free call writes the row only to roll its period or refresh a minute-old last_used_at.
    IF p_cost > 0 OR p_hold > 0 OR v_k_reset OR k.last_used_at IS NULL OR k.last_used_at < p_now - interval '60 seconds' THEN
      UPDATE ${t.keys} SET budget_used_micros = v_k_used + p_cost,
          budget_used_cents = LEAST((v_k_used + p_cost + 9999) / 10000, 2147483647)::int,
          budget_reset_at = k.budget_reset_at,
          held_micros = held_micros + p_hold,
          last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < p_now - interval '60 seconds' THEN p_now ELSE last_used_at END
        WHERE id = k.id RETURNING budget_used_micros, held_micros INTO k.budget_used_micros, k.held_micros;
      v_k_used := k.budget_used_micros;
    END IF;
    IF p.id IS NOT NULL THEN
      ${spendParent(t, 'p_cost', 'held_micros + p_hold')}
    END IF;
    IF k.account_capped THEN
      ${spendAccount(n, 'k.account_id', 'p_cost')}
    END IF;
    IF p_idem IS NOT NULL AND NOT v_replayed THEN
      UPDATE ${n.idempotency} SET hold_id = v_hold_id, charged_micros = p_cost
        WHERE principal_id = v_id AND op = p_op AND key = p_idem;
    END IF;
    IF NOT v_replayed AND (p_cost > 0 OR p_hold > 0) THEN
      ${claim(t, "'charge'", 'k.id', 'p.id', 'CASE WHEN k.account_capped THEN k.account_id END', 'p_cost', 'v_hold_id', 'p_idem')}
    ELSIF v_replayed THEN
      ${replayClaim(t, 'v_id', 'p_op')}
    END IF;
    IF p_ledger AND NOT v_replayed THEN
      IF p_cost > 0 THEN
        INSERT INTO ${n.ledger} (at, principal_id, subject, account_id, kind, amount_micros, idempotency_key, metadata)
          VALUES (p_now, k.id, k.external_subject, k.account_id, 'charge', p_cost, p_idem, p_meta);
      END IF;
      IF p_hold > 0 THEN
        INSERT INTO ${n.ledger} (at, principal_id, subject, account_id, kind, amount_micros, idempotency_key, hold_id, metadata)
          VALUES (p_now, k.id, k.external_subject, k.account_id, 'hold', p_hold, p_idem, v_hold_id, p_meta);
      END IF;
    END IF;
  END IF;

  RETURN QUERY SELECT v_outcome, v_cap, v_hold_id, (CASE WHEN v_replayed THEN v_orig ELSE p_cost END)::float8, 0::float8, v_replayed,
    k.id, k.account_id, k.user_id, k.name, k.scopes, k.budget_cents, k.budget_period, k.delegated_by, k.external_subject,
    ${ms('k.expires_at')}, ${ms('k.revoked_at')}, v_k_used::float8, (v_k_held + CASE WHEN v_outcome = 'ok' THEN p_hold ELSE 0 END)::float8,
    ${ms('k.budget_reset_at')}, a.budget_cents, v_a_used::float8, ${ms('a.budget_reset_at')},
    hh.amount_micros::float8, ${ms('hh.expires_at')}, ${ms('p.budget_reset_at')},
    (v_a_held + CASE WHEN v_outcome = 'ok' THEN p_hold ELSE 0 END)::float8,
    -- The pool root as this call leaves it: a pooled key reports no more room than its pool has.
    p.id, p.budget_cents, v_p_used::float8, (v_p_held + CASE WHEN v_outcome = 'ok' THEN p_hold ELSE 0 END)::float8
    FROM (SELECT 1) one LEFT JOIN ${n.holds} hh ON hh.id = v_hold_id;
END $f$;

-- Closes this key's expired holds and takes them off its (and its pool parent's) upper bound.
-- Only rows the caller has locked are written, so it cannot deadlock.
CREATE OR REPLACE FUNCTION ${n.fn('expire_holds')}(p_principal integer, p_pool integer, p_now timestamptz, p_ledger boolean)
  RETURNS void LANGUAGE plpgsql AS $f$
DECLARE v_total bigint;
BEGIN
  WITH gone AS (
    UPDATE ${n.holds} SET state = 'expired', closed_at = p_now
      WHERE principal_id = p_principal AND state = 'open' AND expires_at <= p_now
      RETURNING id, account_id, amount_micros
  ), logged AS (
    INSERT INTO ${n.ledger} (at, principal_id, account_id, kind, amount_micros, hold_id)
      SELECT p_now, p_principal, account_id, 'expire', amount_micros, id FROM gone WHERE p_ledger
  )
  SELECT COALESCE(sum(amount_micros), 0) INTO v_total FROM gone;
  IF v_total > 0 THEN
    UPDATE ${t.keys} SET held_micros = GREATEST(held_micros - v_total, 0) WHERE id = p_principal OR id = p_pool;
  END IF;
END $f$;`;
}

/** Settle (charge the actual cost, free the rest) or release (free it all) one hold. */
function closeHoldFunction(t: TableNames, n: EngineNames): string {
  return `
CREATE OR REPLACE FUNCTION ${n.fn('close_hold')}(p_hold bigint, p_now timestamptz, p_cost bigint, p_settle boolean,
  p_idem text, p_ledger boolean, p_meta jsonb, p_rid uuid, p_lock_ms integer) RETURNS TABLE (${OUT}) LANGUAGE plpgsql AS $f$
#variable_conflict use_column
DECLARE
  h ${n.holds}%ROWTYPE;
  k ${t.keys}%ROWTYPE;
  p ${t.keys}%ROWTYPE;
  a ${n.accounts}%ROWTYPE;
  v_outcome text := 'ok';
  v_cap text;
  v_charge bigint := 0;
  v_room bigint;
  v_k_used bigint;
  v_p_used bigint;
  v_a_used bigint;
  v_replayed boolean := false;
  v_op text := CASE WHEN p_settle THEN 'settle' ELSE 'release' END;
  v_orig_rid uuid;
BEGIN
  ${lockTimeout}
  SELECT * INTO h FROM ${n.holds} WHERE id = p_hold;
  IF h.id IS NULL THEN
    ${outcomeOnly('no_hold', 'p_hold')}
    RETURN;
  END IF;
  IF p_idem IS NOT NULL THEN
    INSERT INTO ${n.idempotency} (principal_id, op, key, hold_id, created_at, request_id)
      VALUES (h.principal_id, v_op, p_idem, p_hold, p_now, p_rid) ON CONFLICT DO NOTHING;
    v_replayed := NOT FOUND;
    IF v_replayed THEN
      -- Waits for a void in progress; a key it gave back is claimed again.
      PERFORM 1 FROM ${n.idempotency} i WHERE i.principal_id = h.principal_id AND i.op = v_op AND i.key = p_idem FOR UPDATE;
      IF NOT FOUND THEN
        INSERT INTO ${n.idempotency} (principal_id, op, key, hold_id, created_at, request_id)
          VALUES (h.principal_id, v_op, p_idem, p_hold, p_now, p_rid);
        v_replayed := false;
      END IF;
    END IF;
    -- The same key used for another hold is a client bug, not a replay.
    IF v_replayed AND NOT EXISTS (SELECT 1 FROM ${n.idempotency} i WHERE i.principal_id = h.principal_id AND i.op = v_op
        AND i.key = p_idem AND i.hold_id = p_hold) THEN
      ${outcomeOnly('idempotency_conflict', 'p_hold')}
      RETURN;
    END IF;
  END IF;
  -- Lock order as in charge: pool parent, key, account; then the hold itself.
  IF h.pool_id IS NOT NULL THEN SELECT * INTO p FROM ${t.keys} WHERE id = h.pool_id FOR UPDATE; END IF;
  SELECT * INTO k FROM ${t.keys} WHERE id = h.principal_id FOR UPDATE;
  -- The account is charged by the key's ceiling now, not when the hold was taken.
  IF k.account_capped THEN SELECT * INTO a FROM ${n.accounts} WHERE account_id = k.account_id FOR UPDATE; END IF;
  SELECT * INTO h FROM ${n.holds} WHERE id = p_hold FOR UPDATE;

  IF v_replayed THEN
    SELECT i.charged_micros, i.request_id INTO v_charge, v_orig_rid FROM ${n.idempotency} i
      WHERE i.principal_id = h.principal_id AND i.op = v_op AND i.key = p_idem;
    v_outcome := 'ok';
    ${replayClaim(t, 'h.principal_id', 'v_op')}
  ELSIF h.state <> 'open' AND EXISTS (SELECT 1 FROM ${requestsTable(t)} c WHERE c.request_id = p_rid AND c.kind = v_op
      AND c.hold_id = h.id AND c.voided_at IS NULL) THEN
    -- This very request closed the hold (a first attempt whose answer was lost, retried once):
    -- its committed outcome is the answer, not hold_closed.
    SELECT c.charged_micros INTO v_charge FROM ${requestsTable(t)} c WHERE c.request_id = p_rid;
    v_outcome := 'ok';
    v_replayed := true;
  ELSIF h.state = 'open' AND h.expires_at <= p_now THEN
    PERFORM ${n.fn('expire_holds')}(h.principal_id, h.pool_id, p_now, p_ledger);
    v_outcome := 'hold_expired';
  ELSIF h.state <> 'open' THEN
    v_outcome := 'hold_' || h.state;
  ELSE
    ${usedNow(n, 'k', 'v_k_used')}
    IF p.id IS NOT NULL THEN
      ${usedNow(n, 'p', 'v_p_used')}
    END IF;
    IF a.account_id IS NOT NULL THEN
      ${usedNow(n, 'a', 'v_a_used')}
    END IF;
    IF p_settle THEN
      -- The hold's own amount is freed first; a cost above it takes only what every cap still allows.
      v_charge := p_cost;
      IF k.budget_cents IS NOT NULL THEN
        v_room := k.budget_cents::bigint * 10000 - v_k_used - (SELECT COALESCE(sum(amount_micros), 0) FROM ${n.holds}
          WHERE (principal_id = k.id OR pool_id = k.id) AND state = 'open' AND expires_at > p_now AND id <> h.id);
        IF v_charge > v_room THEN v_charge := GREATEST(v_room, 0); v_cap := 'key'; END IF;
      END IF;
      IF p.id IS NOT NULL AND p.budget_cents IS NOT NULL THEN
        v_room := p.budget_cents::bigint * 10000 - v_p_used - (SELECT COALESCE(sum(amount_micros), 0) FROM ${n.holds}
          WHERE (principal_id = p.id OR pool_id = p.id) AND state = 'open' AND expires_at > p_now AND id <> h.id);
        IF v_charge > v_room THEN v_charge := GREATEST(v_room, 0); v_cap := 'pool'; END IF;
      END IF;
      IF a.account_id IS NOT NULL AND a.budget_cents IS NOT NULL THEN
        v_room := a.budget_cents::bigint * 10000 - v_a_used - (SELECT COALESCE(sum(amount_micros), 0) FROM ${n.holds}
          WHERE account_id = a.account_id AND state = 'open' AND expires_at > p_now AND id <> h.id);
        IF v_charge > v_room THEN v_charge := GREATEST(v_room, 0); v_cap := 'account'; END IF;
      END IF;
    END IF;
    UPDATE ${n.holds} SET state = CASE WHEN p_settle THEN 'settled' ELSE 'released' END, settled_micros = v_charge,
      closed_at = p_now WHERE id = h.id;
    UPDATE ${t.keys} SET budget_used_micros = v_k_used + v_charge,
        budget_used_cents = LEAST((v_k_used + v_charge + 9999) / 10000, 2147483647)::int,
        budget_reset_at = k.budget_reset_at, held_micros = GREATEST(held_micros - h.amount_micros, 0)
      WHERE id = k.id RETURNING budget_used_micros, held_micros INTO k.budget_used_micros, k.held_micros;
    v_k_used := k.budget_used_micros;
    IF p.id IS NOT NULL THEN
      ${spendParent(t, 'v_charge', 'GREATEST(held_micros - h.amount_micros, 0)')}
    END IF;
    IF a.account_id IS NOT NULL THEN
      ${spendAccount(n, 'a.account_id', 'v_charge')}
    END IF;
    IF p_idem IS NOT NULL THEN
      UPDATE ${n.idempotency} SET charged_micros = v_charge, shortfall_micros = p_cost - v_charge
        WHERE principal_id = h.principal_id AND op = v_op AND key = p_idem;
    END IF;
    ${claim(t, 'v_op', 'h.principal_id', 'h.pool_id', 'a.account_id', 'v_charge', 'h.id', 'p_idem')}
    IF p_ledger THEN
      INSERT INTO ${n.ledger} (at, principal_id, subject, account_id, kind, amount_micros, idempotency_key, hold_id, metadata)
        VALUES (p_now, k.id, k.external_subject, k.account_id, v_op, v_charge, p_idem, h.id,
          CASE WHEN p_settle AND v_charge < p_cost
            THEN COALESCE(p_meta, '{}'::jsonb) || jsonb_build_object('shortfall_micros', p_cost - v_charge, 'cap', v_cap)
            ELSE p_meta END);
    END IF;
  END IF;
  IF v_outcome <> 'ok' AND p_idem IS NOT NULL AND NOT v_replayed THEN
    DELETE FROM ${n.idempotency} WHERE principal_id = h.principal_id AND op = v_op AND key = p_idem;
  END IF;
  RETURN QUERY SELECT v_outcome, v_cap, h.id, v_charge::float8, GREATEST(p_cost - v_charge, 0)::float8, v_replayed,
    k.id, k.account_id, k.user_id, k.name, k.scopes, k.budget_cents, k.budget_period, k.delegated_by, k.external_subject,
    ${ms('k.expires_at')}, ${ms('k.revoked_at')}, COALESCE(v_k_used, ${usedOf('k')})::float8,
    ${heldMicrosNow(n.holds, 'k', 'p_now')}::float8,
    ${ms('k.budget_reset_at')}, a.budget_cents, v_a_used::float8, ${ms('a.budget_reset_at')},
    h.amount_micros::float8, ${ms('h.expires_at')}, ${ms('p.budget_reset_at')},
    ${accountHeldMicrosNow(n.holds, 'a', 'p_now')}::float8,
    p.id, p.budget_cents, COALESCE(v_p_used, ${usedOf('p')})::float8,
    -- Summed: p.held_micros is stale when expire_holds ran above.
    (CASE WHEN p.id IS NOT NULL THEN (SELECT COALESCE(sum(amount_micros), 0) FROM ${n.holds}
      WHERE (principal_id = p.id OR pool_id = p.id) AND state = 'open' AND expires_at > p_now) END)::float8;
END $f$;`;
}

/** Adds `delta` micros to the pool parent `p` (its period already rolled into v_p_used). */
function spendParent(t: TableNames, delta: string, held: string): string {
  return `UPDATE ${t.keys} SET budget_used_micros = v_p_used + ${delta},
          budget_used_cents = LEAST((v_p_used + ${delta} + 9999) / 10000, 2147483647)::int,
          budget_reset_at = p.budget_reset_at, held_micros = ${held}
        WHERE id = p.id RETURNING budget_used_micros INTO v_p_used;`;
}

/**
 * Adds `delta` micros to the locked account row `a` and re-sums its held_micros (any new hold
 * included) under that lock: the one-statement ceiling path trusts that upper bound.
 */
function spendAccount(n: EngineNames, account: string, delta: string): string {
  return `UPDATE ${n.accounts} SET budget_used_micros = v_a_used + ${delta},
          budget_used_cents = LEAST((v_a_used + ${delta} + 9999) / 10000, 2147483647)::int,
          budget_reset_at = a.budget_reset_at, updated_at = p_now,
          held_micros = (SELECT COALESCE(sum(amount_micros), 0) FROM ${n.holds}
            WHERE account_id = ${account} AND state = 'open')
        WHERE account_id = ${account} RETURNING budget_used_micros INTO v_a_used;`;
}

/**
 * `<used> := micros used by row variable <v> this period`, rolling its period first when it has
 * elapsed (the new reset is written back with the charge). Inline, not a SQL function: calling one
 * from PL/pgSQL runs the executor every time.
 */
function usedNow(n: EngineNames, v: string, used: string, onReset = ''): string {
  return `${used} := ${usedOf(v)};
  IF ${v}.budget_reset_at IS NOT NULL AND ${v}.budget_reset_at <= p_now THEN
    ${used} := 0; ${onReset}
    ${v}.budget_reset_at := ${n.fn('next_reset')}(${v}.budget_period, p_now, ${v}.budget_reset_at);
  END IF;`;
}

/** Micros used by a row variable, honouring a hand-edited budget_used_cents (see expressions.ts). */
export function usedOf(v: string): string {
  return `(CASE WHEN ${v}.budget_used_micros IS NOT NULL AND (${v}.budget_used_micros + 9999) / 10000 = COALESCE(${v}.budget_used_cents, 0) THEN ${v}.budget_used_micros ELSE COALESCE(${v}.budget_used_cents, 0)::bigint * 10000 END)`;
}
