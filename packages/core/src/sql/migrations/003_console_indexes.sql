-- Migration 003: indexes for the console's reads (@agentkey/console), so each page answers in
-- milliseconds at 100,000 keys and 1,000,000 ledger rows. Only creates what is missing.

-- A row's ledger by time, carrying what spend sums read (answered from the index alone); it
-- replaces 001's (principal_id, at), which it serves as well.
CREATE INDEX IF NOT EXISTS {{index:_ledger_principal_cover}} ON {{_ledger}} (principal_id, at) INCLUDE (kind, amount_micros);
-- Schema-qualified (an index's own name takes none), so only this deployment's index goes.
DROP INDEX IF EXISTS {{_ledger_principal_idx}};
-- Today's spend: the ledger by time alone (the other indexes lead with a principal or account).
CREATE INDEX IF NOT EXISTS {{index:_ledger_at_idx}} ON {{_ledger}} (at) INCLUDE (kind, amount_micros);
-- A pool root's children.
CREATE INDEX IF NOT EXISTS {{index:_pool_parent_idx}} ON {{keys}} (pool_parent_id) WHERE pool_parent_id IS NOT NULL;
-- The top spenders in spend order; the period's total of the pool roots from the index alone.
CREATE INDEX IF NOT EXISTS {{index:_spend_idx}} ON {{keys}} (budget_used_micros DESC NULLS LAST, id) INCLUDE (pool_parent_id);
-- The capped live rows nearest their cap.
CREATE INDEX IF NOT EXISTS {{index:_cap_ratio_idx}} ON {{keys}}
  (((COALESCE(budget_used_micros, 0) + held_micros)::float8 / budget_cents) DESC)
  WHERE budget_cents > 0 AND revoked_at IS NULL;
-- The listing's status filters: revoked rows, and rows with an expiry.
CREATE INDEX IF NOT EXISTS {{index:_revoked_idx}} ON {{keys}} (id) WHERE revoked_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS {{index:_expires_idx}} ON {{keys}} (expires_at) WHERE expires_at IS NOT NULL;
-- Search by the start of a name, a subject or a shown prefix, whatever the collation.
CREATE INDEX IF NOT EXISTS {{index:_name_search_idx}} ON {{keys}} (lower(name) text_pattern_ops);
CREATE INDEX IF NOT EXISTS {{index:_subject_search_idx}} ON {{keys}} (lower(external_subject) text_pattern_ops)
  WHERE external_subject IS NOT NULL;
CREATE INDEX IF NOT EXISTS {{index:_prefix_search_idx}} ON {{keys}} (key_prefix text_pattern_ops);
