-- Migration 004: the refusal tally, and the console overview's summary. Only creates what is missing.
-- A refused call writes nothing to the request path's tables by design; each process counts its
-- refusals in memory and adds them here at most every few seconds, in one upsert per flush
-- (src/tally/). One row per minute and code; old minutes are pruned by the flushes.
CREATE TABLE IF NOT EXISTS {{_refusals}} (
  minute TIMESTAMPTZ NOT NULL,
  code TEXT NOT NULL CHECK (length(code) BETWEEN 1 AND 64),
  count BIGINT NOT NULL CHECK (count >= 0),
  PRIMARY KEY (minute, code)
);
-- The console overview's numbers that need a scan of the keys table or the ledger (spend today and
-- this period, top spenders, keys near their cap), recomputed in the background by one process at
-- a time (the lease) at most every few seconds, and shown with the time they were computed at.
-- One row; nothing on the request path reads or writes it.
CREATE TABLE IF NOT EXISTS {{_console_overview}} (
  id SMALLINT PRIMARY KEY CHECK (id = 1),
  computed_at TIMESTAMPTZ,
  lease_until TIMESTAMPTZ,
  payload JSONB
);
