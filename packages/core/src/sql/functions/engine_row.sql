-- The engine functions' one result shape, created once, and the helper that builds a row of it.
-- Only the validated table names are substituted (the names in double braces, sql/render.ts);
-- packages/core/sql-rendered/ has every file rendered for the default table.

-- What charge and close_hold return, in the shape authorize/engine-row.ts reads (times in epoch
-- ms). Created once: re-creating the functions (whenever their checksum changed, sql/migrate.ts)
-- replaces them in place, so calls running meanwhile never lose the type or a function. Before
-- the type existed (agentkey 0.3.0) the functions returned OUT columns, which CREATE OR REPLACE
-- cannot change: those are dropped first, that one time. A new shape is a numbered migration
-- (002_rate_limits.sql added the rate_ columns to a type made before it).
DO $engine_row$
BEGIN
  IF to_regtype('{{_engine_row}}') IS NULL THEN
    DROP FUNCTION IF EXISTS {{_charge}}(text, timestamptz, bigint, text, boolean, boolean, bigint, timestamptz, text, text, boolean, jsonb);
    DROP FUNCTION IF EXISTS {{_close_hold}}(bigint, timestamptz, bigint, boolean, text, boolean, jsonb);
    DROP FUNCTION IF EXISTS {{_charge}}(text, timestamptz, bigint, text, boolean, boolean, bigint, timestamptz, text, text, boolean, jsonb, uuid, integer);
    DROP FUNCTION IF EXISTS {{_close_hold}}(bigint, timestamptz, bigint, boolean, text, boolean, jsonb, uuid, integer);
    CREATE TYPE {{_engine_row}} AS (
      outcome text, cap text, hold_id bigint, charged_micros float8, shortfall_micros float8, replayed boolean,
      id integer, account_id text, user_id text, name text, scopes text[], budget_cents integer, budget_period text,
      delegated_by text, external_subject text, expires_at float8, revoked_at float8, used_micros float8,
      held_micros float8, budget_reset_at float8, account_limit_cents integer, account_used_micros float8,
      account_reset_at float8, hold_amount_micros float8, hold_expires_at float8, pool_reset_at float8,
      account_held_micros float8, pool_id integer, pool_budget_cents integer, pool_used_micros float8,
      pool_held_micros float8, rate_policy text, rate_kind text, rate_limit float8, rate_remaining float8,
      rate_reset_sec float8, rate_window_sec float8
    );
  END IF;
END $engine_row$;

-- An outcome with no row to report (unknown key, no such hold, a conflicting key): nothing
-- charged, held or used, every other column NULL.
CREATE OR REPLACE FUNCTION {{_no_row}}(p_outcome text, p_hold bigint) RETURNS {{_engine_row}} LANGUAGE sql STABLE AS $f$
  SELECT jsonb_populate_record(NULL::{{_engine_row}}, jsonb_build_object('outcome', p_outcome, 'hold_id', p_hold,
    'charged_micros', 0, 'shortfall_micros', 0, 'replayed', false, 'used_micros', 0, 'held_micros', 0)) $f$;
