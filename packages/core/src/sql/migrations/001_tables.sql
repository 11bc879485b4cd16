-- Migration 001: the keys table and the engine's tables, as agentkey 0.3.0 left them. Every step
-- only creates what is missing, so a table made by 0.2.0 or by an older migrate() (which replayed
-- all of this on every call, with no version table) upgrades in place. Only the validated table
-- names are substituted (the names in double braces, sql/render.ts).

CREATE TABLE IF NOT EXISTS {{keys}} (
  id SERIAL PRIMARY KEY,
  account_id TEXT,
  key_hash TEXT NOT NULL UNIQUE,
  key_prefix TEXT NOT NULL,
  name TEXT NOT NULL DEFAULT 'default',
  created_at TIMESTAMPTZ DEFAULT NOW(),
  last_used_at TIMESTAMPTZ,
  revoked_at TIMESTAMPTZ
);
-- CREATE TABLE IF NOT EXISTS keeps any table of that name. One that lacks the columns created
-- above is someone else's: say so before ALTER TABLE adds our columns to it, instead of failing
-- later on a raw "column … does not exist".
DO $not_keys$
DECLARE missing TEXT;
BEGIN
  SELECT string_agg(c, ', ' ORDER BY n) INTO missing
  FROM unnest(ARRAY['id', 'account_id', 'key_hash', 'key_prefix', 'name', 'created_at', 'last_used_at', 'revoked_at']) WITH ORDINALITY AS wanted(c, n)
  WHERE NOT EXISTS (SELECT 1 FROM pg_attribute
    WHERE attrelid = '{{keys}}'::regclass AND attname = c AND attnum > 0 AND NOT attisdropped);
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'table % exists but is not an agentkey keys table (missing columns: %)', '{{table_id}}', missing
      USING HINT = 'Pass another tableName to new AgentKey(...), or move that table away.';
  END IF;
END $not_keys$;
ALTER TABLE {{keys}}
  ADD COLUMN IF NOT EXISTS user_id TEXT,
  ADD COLUMN IF NOT EXISTS scopes TEXT[],
  ADD COLUMN IF NOT EXISTS budget_cents INTEGER,
  ADD COLUMN IF NOT EXISTS budget_used_cents INTEGER DEFAULT 0,
  ADD COLUMN IF NOT EXISTS budget_period TEXT,
  ADD COLUMN IF NOT EXISTS budget_reset_at TIMESTAMPTZ,
  ADD COLUMN IF NOT EXISTS expires_at TIMESTAMPTZ,
  ADD COLUMN IF NOT EXISTS delegated_by TEXT,
  ADD COLUMN IF NOT EXISTS external_subject TEXT,
  ADD COLUMN IF NOT EXISTS budget_used_micros BIGINT;
COMMENT ON COLUMN {{keys}}.budget_used_micros IS 'agentkey: exact spend this period in 1e-4 cent units; budget_used_cents is the same rounded up';
CREATE UNIQUE INDEX IF NOT EXISTS {{index:_external_subject_key}} ON {{keys}} (external_subject) WHERE external_subject IS NOT NULL;
CREATE INDEX IF NOT EXISTS {{index:_account_id_idx}} ON {{keys}} (account_id);

ALTER TABLE {{keys}}
  ADD COLUMN IF NOT EXISTS held_micros BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS account_capped BOOLEAN,
  ADD COLUMN IF NOT EXISTS pool_parent_id INTEGER;
COMMENT ON COLUMN {{keys}}.held_micros IS 'agentkey: open holds on this row and its pooled children (1e-4 cent units); an upper bound, exact sums come from the holds table';
COMMENT ON COLUMN {{keys}}.account_capped IS 'agentkey: the account has a ceiling (NULL: not yet known)';

-- A key moved to another account by hand must be re-judged against that account's ceiling.
CREATE OR REPLACE FUNCTION {{_account_moved}}() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  IF NEW.account_id IS DISTINCT FROM OLD.account_id THEN NEW.account_capped := NULL; END IF;
  RETURN NEW;
END $f$;
DROP TRIGGER IF EXISTS agentkey_account_moved ON {{keys}};
CREATE TRIGGER agentkey_account_moved BEFORE UPDATE OF account_id ON {{keys}}
  FOR EACH ROW EXECUTE FUNCTION {{_account_moved}}();

CREATE TABLE IF NOT EXISTS {{_accounts}} (
  account_id TEXT PRIMARY KEY,
  budget_cents INTEGER,
  budget_period TEXT,
  budget_reset_at TIMESTAMPTZ,
  budget_used_cents INTEGER NOT NULL DEFAULT 0,
  budget_used_micros BIGINT NOT NULL DEFAULT 0,
  held_micros BIGINT NOT NULL DEFAULT 0,
  updated_at TIMESTAMPTZ
);
ALTER TABLE {{_accounts}} ADD COLUMN IF NOT EXISTS held_micros BIGINT NOT NULL DEFAULT 0;
COMMENT ON COLUMN {{_accounts}}.held_micros IS 'agentkey: at least the open holds of the account''s keys (an upper bound the engine repairs under the account lock)';

CREATE TABLE IF NOT EXISTS {{_holds}} (
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
CREATE INDEX IF NOT EXISTS {{index:_holds_open_idx}} ON {{_holds}} (principal_id, expires_at) WHERE state = 'open';
CREATE INDEX IF NOT EXISTS {{index:_holds_pool_idx}} ON {{_holds}} (pool_id) WHERE state = 'open' AND pool_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS {{index:_holds_account_idx}} ON {{_holds}} (account_id) WHERE state = 'open' AND account_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS {{_ledger}} (
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
CREATE INDEX IF NOT EXISTS {{index:_ledger_principal_idx}} ON {{_ledger}} (principal_id, at);
CREATE INDEX IF NOT EXISTS {{index:_ledger_account_idx}} ON {{_ledger}} (account_id, at);

CREATE OR REPLACE FUNCTION {{_ledger_append_only}}() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  RAISE EXCEPTION 'agentkey ledger is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $f$;
DROP TRIGGER IF EXISTS agentkey_append_only ON {{_ledger}};
CREATE TRIGGER agentkey_append_only BEFORE UPDATE OR DELETE ON {{_ledger}}
  FOR EACH ROW EXECUTE FUNCTION {{_ledger_append_only}}();
DROP TRIGGER IF EXISTS agentkey_append_only_truncate ON {{_ledger}};
CREATE TRIGGER agentkey_append_only_truncate BEFORE TRUNCATE ON {{_ledger}}
  FOR EACH STATEMENT EXECUTE FUNCTION {{_ledger_append_only}}();

CREATE TABLE IF NOT EXISTS {{_idempotency}} (
  principal_id INTEGER NOT NULL,
  op TEXT NOT NULL,
  key TEXT NOT NULL,
  hold_id BIGINT,
  charged_micros BIGINT NOT NULL DEFAULT 0,
  shortfall_micros BIGINT NOT NULL DEFAULT 0,
  created_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (principal_id, op, key)
);

CREATE TABLE IF NOT EXISTS {{_requests}} (
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
ALTER TABLE {{_requests}} ADD COLUMN IF NOT EXISTS origin UUID;
-- What identified each counter's period when the call charged it: its reset date (epoch ms, as
-- the statements return it) and its reset count. A void refunds a counter only while both still
-- match: a period that rolled, or an admin reset, already dropped the charge from that counter.
ALTER TABLE {{_requests}} ADD COLUMN IF NOT EXISTS key_mark TEXT, ADD COLUMN IF NOT EXISTS pool_mark TEXT,
  ADD COLUMN IF NOT EXISTS account_mark TEXT;
ALTER TABLE {{keys}} ADD COLUMN IF NOT EXISTS budget_resets INTEGER NOT NULL DEFAULT 0;
ALTER TABLE {{_accounts}} ADD COLUMN IF NOT EXISTS budget_resets INTEGER NOT NULL DEFAULT 0;
COMMENT ON COLUMN {{keys}}.budget_resets IS 'agentkey: how many admin resets zeroed this counter (claims record it: a void refunds only the period it charged)';
COMMENT ON COLUMN {{_requests}}.origin IS 'agentkey: for a replay of an idempotency key, the request whose effect it replayed';
CREATE INDEX IF NOT EXISTS {{index:_requests_origin_idx}} ON {{_requests}} (origin) WHERE origin IS NOT NULL;
COMMENT ON TABLE {{_requests}} IS 'agentkey: one claim per committed charge, hold, settle or release (kind), or a tombstone for a call answered unavailable that never committed; rows older than a day are pruned';
COMMENT ON COLUMN {{_requests}}.account_id IS 'agentkey: the account whose counter the call charged (under a ceiling), else NULL';
CREATE INDEX IF NOT EXISTS {{index:_requests_at_brin}} ON {{_requests}} USING brin (at);
ALTER TABLE {{_idempotency}} ADD COLUMN IF NOT EXISTS request_id UUID;
COMMENT ON COLUMN {{_idempotency}}.request_id IS 'agentkey: the request that made this key''s effect';
