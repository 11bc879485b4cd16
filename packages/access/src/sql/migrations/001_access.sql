-- @agentkey/access, migration 001: the tools catalog, access requests and grants, suggestions,
-- permit slips and the audit log. Only the validated table names are substituted (double braces),
-- each named from the keys table so two deployments in one database never share them.

-- A tool an agent may ask for. Its secret is sealed (AES-256-GCM): key id, IV, ciphertext, tag,
-- bound to (table, id, secret_version, kid) as additional authenticated data (secrets/seal.ts).
CREATE TABLE IF NOT EXISTS {{_access_tools}} (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  base_url TEXT NOT NULL,
  secret_header TEXT NOT NULL,
  secret_template TEXT NOT NULL,
  methods TEXT[] NOT NULL,
  path_prefixes TEXT[] NOT NULL,
  actions JSONB NOT NULL DEFAULT '{}'::jsonb,
  cost_micros BIGINT CHECK (cost_micros >= 0),
  secret_version INTEGER NOT NULL DEFAULT 0,
  secret_kid TEXT,
  secret_iv BYTEA,
  secret_data BYTEA,
  secret_tag BYTEA,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One agent's request for one tool, and the grant it becomes once approved. An agent is a row of
-- the keys table (a native key or an external subject); agent_root is its budget pool's root, so
-- a pooled child of the requester counts as the requester when approving.
CREATE TABLE IF NOT EXISTS {{_access_grants}} (
  id BIGSERIAL PRIMARY KEY,
  tool_id TEXT NOT NULL REFERENCES {{_access_tools}} (id),
  agent_id INTEGER NOT NULL,
  agent_root INTEGER NOT NULL,
  agent TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'granted', 'denied', 'revoked', 'expired')),
  reason TEXT NOT NULL,
  asked_scopes TEXT[],
  asked_ttl_sec INTEGER,
  asked_budget_micros BIGINT,
  methods TEXT[],
  expires_at TIMESTAMPTZ,
  budget_micros BIGINT,
  spent_micros BIGINT NOT NULL DEFAULT 0,
  rate_requests INTEGER,
  rate_window_sec INTEGER,
  decided_by TEXT,
  decided_at TIMESTAMPTZ,
  note TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- At most one open request or grant per agent and tool: a second request while one is open is a 409.
CREATE UNIQUE INDEX IF NOT EXISTS {{index:_access_one_open}} ON {{_access_grants}} (tool_id, agent_id)
  WHERE status IN ('pending', 'granted');

-- A tool an agent asked us to add; one row per agent and tool name, aggregated when listed.
CREATE TABLE IF NOT EXISTS {{_access_suggest}} (
  id BIGSERIAL PRIMARY KEY,
  name TEXT NOT NULL,
  name_key TEXT NOT NULL,
  url TEXT NOT NULL,
  reason TEXT NOT NULL,
  agent_id INTEGER NOT NULL,
  agent TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  UNIQUE (name_key, agent_id)
);

-- A permit slip: a child key (keys table) scoped to one action of one tool, on a grant of its parent.
CREATE TABLE IF NOT EXISTS {{_access_slips}} (
  key_id INTEGER PRIMARY KEY,
  grant_id BIGINT NOT NULL REFERENCES {{_access_grants}} (id),
  agent_id INTEGER NOT NULL,
  tool_id TEXT NOT NULL,
  action TEXT NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The audit log: append-only, enforced by the database as the ledger is. Never bodies or secrets.
CREATE TABLE IF NOT EXISTS {{_access_audit}} (
  id BIGSERIAL PRIMARY KEY,
  at TIMESTAMPTZ NOT NULL,
  actor_kind TEXT NOT NULL CHECK (actor_kind IN ('agent', 'human', 'system')),
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  tool_id TEXT,
  agent_id INTEGER,
  target TEXT,
  detail JSONB NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX IF NOT EXISTS {{index:_access_audit_agent}} ON {{_access_audit}} (agent_id, id);
CREATE INDEX IF NOT EXISTS {{index:_access_audit_tool}} ON {{_access_audit}} (tool_id, id);
CREATE INDEX IF NOT EXISTS {{index:_access_audit_at}} ON {{_access_audit}} (at);

CREATE OR REPLACE FUNCTION {{_access_audit_guard}}() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  RAISE EXCEPTION 'agentkey access audit log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $f$;
DROP TRIGGER IF EXISTS agentkey_access_append_only ON {{_access_audit}};
CREATE TRIGGER agentkey_access_append_only BEFORE UPDATE OR DELETE ON {{_access_audit}}
  FOR EACH ROW EXECUTE FUNCTION {{_access_audit_guard}}();
DROP TRIGGER IF EXISTS agentkey_access_append_only_truncate ON {{_access_audit}};
CREATE TRIGGER agentkey_access_append_only_truncate BEFORE TRUNCATE ON {{_access_audit}}
  FOR EACH STATEMENT EXECUTE FUNCTION {{_access_audit_guard}}();
