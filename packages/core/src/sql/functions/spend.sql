-- The writes charge and close_hold share, under the row locks their caller holds. Only the
-- validated table names are substituted (the names in double braces).

-- Adds p_delta micros to the pool parent p_id, whose period is already rolled (p_used micros used
-- this period, reset next at p_reset), and p_held micros to what it holds. Returns its new use.
CREATE OR REPLACE FUNCTION {{_spend_pool}}(p_id integer, p_used bigint, p_delta bigint, p_reset timestamptz,
  p_held bigint) RETURNS bigint LANGUAGE plpgsql AS $f$
DECLARE v_used bigint;
BEGIN
  UPDATE {{keys}} SET budget_used_micros = p_used + p_delta, budget_used_cents = {{_cents_of}}(p_used + p_delta),
      budget_reset_at = p_reset, held_micros = GREATEST(held_micros + p_held, 0)
    WHERE id = p_id RETURNING budget_used_micros INTO v_used;
  RETURN v_used;
END $f$;

-- The same for the account p_account, whose held_micros is re-summed (any new hold included)
-- under its lock: the one-statement ceiling path trusts that upper bound.
CREATE OR REPLACE FUNCTION {{_spend_account}}(p_account text, p_used bigint, p_delta bigint, p_reset timestamptz,
  p_now timestamptz) RETURNS bigint LANGUAGE plpgsql AS $f$
DECLARE v_used bigint;
BEGIN
  UPDATE {{_accounts}} SET budget_used_micros = p_used + p_delta, budget_used_cents = {{_cents_of}}(p_used + p_delta),
      budget_reset_at = p_reset, updated_at = p_now, held_micros = {{_account_open_sum}}(p_account)
    WHERE account_id = p_account RETURNING budget_used_micros INTO v_used;
  RETURN v_used;
END $f$;
