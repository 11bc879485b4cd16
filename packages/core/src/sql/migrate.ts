import { engineSql } from './engine.js';
import type { TableNames } from './identifier.js';

/**
 * One multi-statement query: PostgreSQL runs it as one implicit transaction, so the advisory lock
 * serialises concurrent migrations (CREATE … IF NOT EXISTS alone races on the catalog) and a
 * failure leaves nothing half-applied. Every step is idempotent.
 */
export function migrationSql(t: TableNames): string {
  // Keyed by the resolved name: `keys` and `public.keys` migrating at once must serialise too.
  return `SELECT pg_advisory_xact_lock(hashtextextended('agentkey:migrate:' || ${t.resolvedName}, 0));
CREATE TABLE IF NOT EXISTS ${t.keys} (
  id SERIAL PRIMARY KEY,
  account_id TEXT,
  key_hash TEXT NOT NULL UNIQUE,
  key_prefix TEXT NOT NULL,
  name TEXT NOT NULL DEFAULT 'default',
  created_at TIMESTAMPTZ DEFAULT NOW(),
  last_used_at TIMESTAMPTZ,
  revoked_at TIMESTAMPTZ
);
${notAKeysTableCheck(t)}
ALTER TABLE ${t.keys}
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
COMMENT ON COLUMN ${t.keys}.budget_used_micros IS 'agentkey: exact spend this period in 1e-4 cent units; budget_used_cents is the same rounded up';
CREATE UNIQUE INDEX IF NOT EXISTS ${t.index('_external_subject_key')} ON ${t.keys} (external_subject) WHERE external_subject IS NOT NULL;
CREATE INDEX IF NOT EXISTS ${t.index('_account_id_idx')} ON ${t.keys} (account_id);
${engineSql(t)}`;
}

/**
 * CREATE TABLE IF NOT EXISTS keeps any table of that name. One that lacks the columns created
 * above is someone else's: say so before ALTER TABLE adds our columns to it, instead of failing
 * later on a raw "column … does not exist".
 */
function notAKeysTableCheck(t: TableNames): string {
  const columns = [
    'id',
    'account_id',
    'key_hash',
    'key_prefix',
    'name',
    'created_at',
    'last_used_at',
    'revoked_at',
  ];
  return `DO $not_keys$
DECLARE missing TEXT;
BEGIN
  SELECT string_agg(c, ', ' ORDER BY n) INTO missing
  FROM unnest(ARRAY['${columns.join("', '")}']) WITH ORDINALITY AS wanted(c, n)
  WHERE NOT EXISTS (SELECT 1 FROM pg_attribute
    WHERE attrelid = '${t.keys}'::regclass AND attname = c AND attnum > 0 AND NOT attisdropped);
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'table % exists but is not an agentkey keys table (missing columns: %)', '${t.id}', missing
      USING HINT = 'Pass another tableName to new AgentKey(...), or move that table away.';
  END IF;
END $not_keys$;`;
}
