-- Migration 003: indexes for the console's reads (@agentkey/console), so each page answers in
-- milliseconds at 100,000 keys and 1,000,000 ledger rows. Only creates what is missing.
-- No index here names a column a charge, hold or settle writes (budget_used_*, held_micros,
-- budget_reset_at, rate_*): such an index would make every charge a non-HOT update writing index
-- entries, a cost on the request path for the console's reads (test/sql/migrate-indexes.test.ts).
-- Nor a second index on the ledger by time: one more write per ledger row.

-- A row's ledger by time, carrying what spend sums read (answered from the index alone); it
-- replaces 001's (principal_id, at), which it serves as well.
CREATE INDEX IF NOT EXISTS {{index:_ledger_principal_cover}} ON {{_ledger}} (principal_id, at) INCLUDE (kind, amount_micros);
-- Schema-qualified (an index's own name takes none), so only this deployment's index goes.
DROP INDEX IF EXISTS {{_ledger_principal_idx}};
-- A pool root's children.
CREATE INDEX IF NOT EXISTS {{index:_pool_parent_idx}} ON {{keys}} (pool_parent_id) WHERE pool_parent_id IS NOT NULL;
-- The listing's status filters: revoked rows, and rows with an expiry.
CREATE INDEX IF NOT EXISTS {{index:_revoked_idx}} ON {{keys}} (id) WHERE revoked_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS {{index:_expires_idx}} ON {{keys}} (expires_at) WHERE expires_at IS NOT NULL;
-- Search by the start of a name, a subject or a shown prefix, whatever the collation.
CREATE INDEX IF NOT EXISTS {{index:_name_search_idx}} ON {{keys}} (lower(name) text_pattern_ops);
CREATE INDEX IF NOT EXISTS {{index:_subject_search_idx}} ON {{keys}} (lower(external_subject) text_pattern_ops)
  WHERE external_subject IS NOT NULL;
CREATE INDEX IF NOT EXISTS {{index:_prefix_search_idx}} ON {{keys}} (key_prefix text_pattern_ops);
