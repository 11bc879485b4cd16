-- Migration 003: indexes for the console's reads (@agentkey/console), so each page answers in
-- milliseconds at 100,000 keys and 1,000,000 ledger rows. Only creates what is missing.

-- Today's spend: the ledger by time alone (the existing indexes lead with a principal or account).
CREATE INDEX IF NOT EXISTS {{index:_ledger_at_idx}} ON {{_ledger}} (at);
-- A pool root's children.
CREATE INDEX IF NOT EXISTS {{index:_pool_parent_idx}} ON {{keys}} (pool_parent_id) WHERE pool_parent_id IS NOT NULL;
-- The top spenders, and the capped rows nearest their cap, walked in spend order.
CREATE INDEX IF NOT EXISTS {{index:_spend_idx}} ON {{keys}} (budget_used_micros DESC NULLS LAST, id);
CREATE INDEX IF NOT EXISTS {{index:_cap_ratio_idx}} ON {{keys}}
  (((COALESCE(budget_used_micros, 0) + held_micros)::float8 / budget_cents) DESC)
  WHERE budget_cents > 0 AND revoked_at IS NULL;
