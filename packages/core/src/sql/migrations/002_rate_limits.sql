-- Rate limits (sql/rate-rules.ts has the rule): requests and cents per window, on a key or subject
-- and on an account, and the named windows of other limiters (the /signup limiter of
-- @agentkey/express). Only creates what is missing, so it can run again.

-- A limit is set when rate_window_sec is not NULL (the lean statements' one guard); either count
-- may be NULL (no limit of that kind). The window's state: when it started (the first call it
-- admitted), and what it admitted since (calls, and micros charged or held).
-- The same columns on the keys and the accounts table.
DO $rate_columns$
DECLARE target regclass;
BEGIN
  FOREACH target IN ARRAY ARRAY['{{keys}}'::regclass, '{{_accounts}}'::regclass] LOOP
    EXECUTE format('ALTER TABLE %s
      ADD COLUMN IF NOT EXISTS rate_requests INTEGER,
      ADD COLUMN IF NOT EXISTS rate_cents INTEGER,
      ADD COLUMN IF NOT EXISTS rate_window_sec INTEGER,
      ADD COLUMN IF NOT EXISTS rate_window_at TIMESTAMPTZ,
      ADD COLUMN IF NOT EXISTS rate_count INTEGER NOT NULL DEFAULT 0,
      ADD COLUMN IF NOT EXISTS rate_micros BIGINT NOT NULL DEFAULT 0', target);
    EXECUTE format('COMMENT ON COLUMN %s.rate_window_sec IS %L', target,
      'agentkey: the rate limit''s window in seconds; NULL: no rate limit (sql/rate-rules.ts)');
  END LOOP;
END $rate_columns$;

CREATE TABLE IF NOT EXISTS {{_rate_windows}} (
  bucket TEXT PRIMARY KEY,
  window_at TIMESTAMPTZ NOT NULL,
  count INTEGER NOT NULL DEFAULT 0,
  expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS {{index:_rate_windows_expires_idx}} ON {{_rate_windows}} (expires_at);
COMMENT ON TABLE {{_rate_windows}} IS 'agentkey: fixed windows of named limiters (e.g. /signup per client address), sql/rate-rules.ts';

-- The engine's result carries a rate refusal's numbers. On a database made before this
-- migration the type exists in its first shape and grows here; a new database gets it whole from
-- functions/engine_row.sql.
DO $rate_row$
BEGIN
  IF to_regtype('{{_engine_row}}') IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_attribute
      WHERE attrelid = (SELECT typrelid FROM pg_type WHERE oid = to_regtype('{{_engine_row}}'))
        AND attname = 'rate_policy' AND NOT attisdropped) THEN
    ALTER TYPE {{_engine_row}} ADD ATTRIBUTE rate_policy text, ADD ATTRIBUTE rate_kind text,
      ADD ATTRIBUTE rate_limit float8, ADD ATTRIBUTE rate_remaining float8, ADD ATTRIBUTE rate_reset_sec float8,
      ADD ATTRIBUTE rate_window_sec float8;
  END IF;
END $rate_row$;
