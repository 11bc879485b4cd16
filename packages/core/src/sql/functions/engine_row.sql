-- The engine functions' one result shape, and what is dropped before they are created again.
-- Only the validated table names are substituted (the names in double braces, sql/render.ts);
-- packages/core/sql-rendered/ has every file rendered for the default table.

-- Return shapes changed between versions, and CREATE OR REPLACE cannot change them: these run
-- only when the functions' checksum changed (sql/migrate.ts), and the functions below follow.
DROP FUNCTION IF EXISTS {{_charge}}(text, timestamptz, bigint, text, boolean, boolean, bigint, timestamptz, text, text, boolean, jsonb);
DROP FUNCTION IF EXISTS {{_close_hold}}(bigint, timestamptz, bigint, boolean, text, boolean, jsonb);
DROP FUNCTION IF EXISTS {{_charge}}(text, timestamptz, bigint, text, boolean, boolean, bigint, timestamptz, text, text, boolean, jsonb, uuid, integer);
DROP FUNCTION IF EXISTS {{_close_hold}}(bigint, timestamptz, bigint, boolean, text, boolean, jsonb, uuid, integer);
DROP FUNCTION IF EXISTS {{_no_row}}(text, bigint);
DROP TYPE IF EXISTS {{_engine_row}};

-- What charge and close_hold return, in the shape authorize/engine-row.ts reads (times in epoch ms).
CREATE TYPE {{_engine_row}} AS (
  outcome text, cap text, hold_id bigint, charged_micros float8, shortfall_micros float8, replayed boolean,
  id integer, account_id text, user_id text, name text, scopes text[], budget_cents integer, budget_period text,
  delegated_by text, external_subject text, expires_at float8, revoked_at float8, used_micros float8,
  held_micros float8, budget_reset_at float8, account_limit_cents integer, account_used_micros float8,
  account_reset_at float8, hold_amount_micros float8, hold_expires_at float8, pool_reset_at float8,
  account_held_micros float8, pool_id integer, pool_budget_cents integer, pool_used_micros float8,
  pool_held_micros float8
);

-- An outcome with no row to report (unknown key, no such hold, a conflicting key): nothing
-- charged, held or used, every other column NULL.
CREATE FUNCTION {{_no_row}}(p_outcome text, p_hold bigint) RETURNS {{_engine_row}} LANGUAGE sql STABLE AS $f$
  SELECT jsonb_populate_record(NULL::{{_engine_row}}, jsonb_build_object('outcome', p_outcome, 'hold_id', p_hold,
    'charged_micros', 0, 'shortfall_micros', 0, 'replayed', false, 'used_micros', 0, 'held_micros', 0)) $f$;
