-- @agentkey/access, migration 002: a permit slip is presented as an opaque token (akp_…), never as
-- its child key, so no route but the proxy can take it. The token is kept only as its SHA-256 hash
-- (unique: the proxy finds a slip by it); the child key's secret is sealed (AES-256-GCM under the
-- key ring, bound to the slip's row, secrets/seal.ts) and opened only by the proxy, on each call.
ALTER TABLE {{_access_slips}} ADD COLUMN IF NOT EXISTS token_hash BYTEA;
ALTER TABLE {{_access_slips}} ADD COLUMN IF NOT EXISTS child_kid TEXT;
ALTER TABLE {{_access_slips}} ADD COLUMN IF NOT EXISTS child_iv BYTEA;
ALTER TABLE {{_access_slips}} ADD COLUMN IF NOT EXISTS child_data BYTEA;
ALTER TABLE {{_access_slips}} ADD COLUMN IF NOT EXISTS child_tag BYTEA;
ALTER TABLE {{_access_slips}} ADD COLUMN IF NOT EXISTS revoked_at TIMESTAMPTZ;
CREATE UNIQUE INDEX IF NOT EXISTS {{index:_access_slips_token}} ON {{_access_slips}} (token_hash);

-- Slips minted before this migration handed their child key out; they have no token and are
-- refused by the proxy from now on (they lived at most 15 minutes anyway).
UPDATE {{_access_slips}} SET revoked_at = now() WHERE token_hash IS NULL AND revoked_at IS NULL;
