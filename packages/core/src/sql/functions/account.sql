-- Account ceilings. Only the validated table names are substituted (the names in double braces).

-- The lock set_account_budget holds while it flags an account's keys, and a key's insert or first
-- charge takes to learn whether its account is capped. Keyed by the accounts table's oid, so every
-- spelling of the table name (`keys`, `public.keys`) takes the same lock.
CREATE OR REPLACE FUNCTION {{_account_lock}}(p_account text) RETURNS void LANGUAGE sql VOLATILE AS $f$
  SELECT pg_advisory_xact_lock(hashtextextended('{{_accounts}}'::regclass::oid::text || '|' || p_account, 0)) $f$;

-- Whether an account has a ceiling, read after taking the lock set_account_budget holds while it
-- flags keys: a key inserted concurrently with a new ceiling can never miss it. VOLATILE, so the
-- query inside sees what committed while it waited.
CREATE OR REPLACE FUNCTION {{_account_capped}}(p_account text) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $f$
BEGIN
  IF p_account IS NULL THEN RETURN false; END IF;
  PERFORM {{_account_lock}}(p_account);
  RETURN EXISTS (SELECT 1 FROM {{_accounts}} WHERE account_id = p_account AND budget_cents IS NOT NULL);
END $f$;

-- Whether a new ceiling keeps the account's spend so far: the ceiling existed (re-establishing one
-- after it was cleared starts afresh) and keeps its period, or loses it while it has not elapsed.
CREATE OR REPLACE FUNCTION {{_spend_kept}}(p_cap integer, p_period text, p_new_period text, p_reset timestamptz,
  p_now timestamptz) RETURNS boolean LANGUAGE sql IMMUTABLE AS $f$
  SELECT p_cap IS NOT NULL AND (p_period IS NOT DISTINCT FROM p_new_period
    OR (p_new_period IS NULL AND NOT {{_elapsed}}(p_reset, p_now))) $f$;

-- Sets (or clears) an account's ceiling and flags the account's keys, under the advisory lock the
-- charge function also takes when it first learns whether a key's account is capped.
CREATE OR REPLACE FUNCTION {{_set_account_budget}}(p_account text, p_now timestamptz, p_budget integer,
  p_period text, p_reset timestamptz, p_actor text) RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
  PERFORM {{_account_lock}}(p_account);
  -- Keys before the account row, in id order: the order every charge locks them in.
  UPDATE {{keys}} SET account_capped = (p_budget IS NOT NULL) WHERE id IN (
    SELECT id FROM {{keys}} WHERE account_id = p_account ORDER BY id FOR UPDATE);
  INSERT INTO {{_accounts}} AS a (account_id, budget_cents, budget_period, budget_reset_at, updated_at)
    VALUES (p_account, p_budget, p_period, p_reset, p_now)
    ON CONFLICT (account_id) DO UPDATE SET budget_cents = EXCLUDED.budget_cents,
      budget_period = EXCLUDED.budget_period,
      budget_reset_at = CASE WHEN a.budget_period IS NOT DISTINCT FROM EXCLUDED.budget_period AND a.budget_cents IS NOT NULL
        THEN COALESCE(a.budget_reset_at, EXCLUDED.budget_reset_at) ELSE EXCLUDED.budget_reset_at END,
      -- A ceiling counts spend from when it is set: re-establishing one after it was cleared starts
      -- afresh, and so does a new period (as for keys, sql/admin.ts periodSets); removing the
      -- period keeps the current period's spend, none if it elapsed.
      budget_used_micros = CASE WHEN {{_spend_kept}}(a.budget_cents, a.budget_period, EXCLUDED.budget_period,
        a.budget_reset_at, p_now) THEN a.budget_used_micros ELSE 0 END,
      -- Spend started afresh is a new period for the claims' marks (sql/requests.ts).
      budget_resets = a.budget_resets + CASE WHEN {{_spend_kept}}(a.budget_cents, a.budget_period,
        EXCLUDED.budget_period, a.budget_reset_at, p_now) THEN 0 ELSE 1 END,
      budget_used_cents = CASE WHEN {{_spend_kept}}(a.budget_cents, a.budget_period, EXCLUDED.budget_period,
        a.budget_reset_at, p_now) THEN a.budget_used_cents ELSE 0 END,
      updated_at = p_now;
  -- Holds taken while the account had no ceiling count against the new one.
  UPDATE {{_accounts}} SET held_micros = {{_account_open_sum}}(p_account) WHERE account_id = p_account;
  INSERT INTO {{_ledger}} (at, account_id, kind, actor, metadata)
    VALUES (p_now, p_account, 'admin:account_budget', p_actor,
      jsonb_build_object('budget_cents', p_budget, 'budget_period', p_period));
END $f$;
