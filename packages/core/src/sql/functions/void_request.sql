-- Resolves one in-doubt request: 'not_committed' (tombstoned: it never will), 'voided' (it had
-- committed: reversed now), 'stands' (voided, but another request that saw the same effect —
-- the first call of an idempotency key, or a replay of it — is not, and may have been answered
-- ok: the effect is reversed by the last of them to be voided) or 'resolved' (already done).
CREATE OR REPLACE FUNCTION {{_void_request}}(p_rid uuid, p_now timestamptz, p_ledger boolean, p_lock_ms integer)
  RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
  c {{_requests}}%ROWTYPE;
  h {{_holds}}%ROWTYPE;
  k {{keys}}%ROWTYPE;
  p {{keys}}%ROWTYPE;
  a {{_accounts}}%ROWTYPE;
  v_op text;
  v_origin uuid;
  v_refund bigint := 0;
  v_used bigint;
  v_reopened boolean := false;
BEGIN
  PERFORM set_config('lock_timeout', p_lock_ms || 'ms', true);
  INSERT INTO {{_requests}} (request_id, at, kind) VALUES (p_rid, p_now, 'tombstone') ON CONFLICT DO NOTHING;
  IF FOUND THEN RETURN 'not_committed'; END IF;
  SELECT * INTO c FROM {{_requests}} WHERE request_id = p_rid;
  IF c.kind = 'tombstone' OR c.voided_at IS NOT NULL THEN RETURN 'resolved'; END IF;
  v_op := c.kind;
  v_origin := COALESCE(c.origin, c.request_id);
  -- The idempotency claim first, as the engine takes it: replays of the key wait for this.
  IF c.idempotency_key IS NOT NULL THEN
    PERFORM 1 FROM {{_idempotency}} WHERE principal_id = c.principal_id AND op = v_op AND key = c.idempotency_key
      FOR UPDATE;
  END IF;
  SELECT * INTO c FROM {{_requests}} WHERE request_id = p_rid FOR UPDATE;
  IF c.voided_at IS NOT NULL THEN RETURN 'resolved'; END IF;
  UPDATE {{_requests}} SET voided_at = p_now WHERE request_id = p_rid;
  IF EXISTS (SELECT 1 FROM {{_requests}} WHERE (request_id = v_origin OR origin = v_origin) AND voided_at IS NULL) THEN
    RETURN 'stands';
  END IF;
  -- Every request that saw the effect was voided: none was answered. Reverse what the first did.
  SELECT * INTO c FROM {{_requests}} WHERE request_id = v_origin;
  -- Locks in the engine's order: pool parent, key, account, hold.
  IF c.pool_id IS NOT NULL THEN SELECT * INTO p FROM {{keys}} WHERE id = c.pool_id FOR UPDATE; END IF;
  SELECT * INTO k FROM {{keys}} WHERE id = c.principal_id FOR UPDATE;
  IF c.hold_id IS NOT NULL THEN SELECT * INTO h FROM {{_holds}} WHERE id = c.hold_id; END IF;
  IF COALESCE(c.account_id, h.account_id) IS NOT NULL THEN
    SELECT * INTO a FROM {{_accounts}} WHERE account_id = COALESCE(c.account_id, h.account_id) FOR UPDATE;
  END IF;
  IF c.hold_id IS NOT NULL THEN SELECT * INTO h FROM {{_holds}} WHERE id = c.hold_id FOR UPDATE; END IF;

  -- A charge, or a settle's charge, comes off every counter that still holds it: one still in
  -- the period it landed in, with no reset since (the claim's marks). A counter that moved on
  -- already dropped it; refunding the new period would let it overspend (Guarantee 1).
  IF c.kind IN ('charge', 'settle') AND c.charged_micros > 0 THEN
    v_refund := c.charged_micros;
    IF k.id IS NOT NULL AND {{_same_period}}(c.key_mark, k.budget_resets, k.budget_reset_at, k.budget_period, c.at) THEN
      v_used := GREATEST({{_stored_used}}(k.budget_used_micros, k.budget_used_cents) - v_refund, 0);
      UPDATE {{keys}} SET budget_used_micros = v_used, budget_used_cents = {{_cents_of}}(v_used) WHERE id = k.id;
      k.budget_used_micros := v_used;
    END IF;
    IF p.id IS NOT NULL AND {{_same_period}}(c.pool_mark, p.budget_resets, p.budget_reset_at, p.budget_period, c.at) THEN
      v_used := GREATEST({{_stored_used}}(p.budget_used_micros, p.budget_used_cents) - v_refund, 0);
      UPDATE {{keys}} SET budget_used_micros = v_used, budget_used_cents = {{_cents_of}}(v_used) WHERE id = p.id;
      p.budget_used_micros := v_used;
    END IF;
    IF c.account_id IS NOT NULL AND a.account_id IS NOT NULL AND {{_same_period}}(c.account_mark, a.budget_resets, a.budget_reset_at, a.budget_period, c.at) THEN
      v_used := GREATEST({{_stored_used}}(a.budget_used_micros, a.budget_used_cents) - v_refund, 0);
      UPDATE {{_accounts}} SET budget_used_micros = v_used,
          budget_used_cents = {{_cents_of}}(v_used), updated_at = p_now
        WHERE account_id = a.account_id;
      a.budget_used_micros := v_used;
    END IF;
  END IF;
  -- A hold it took and that is still open stops counting.
  IF c.kind = 'charge' AND h.id IS NOT NULL AND h.state = 'open' THEN
    UPDATE {{_holds}} SET state = 'voided', closed_at = p_now WHERE id = h.id;
    UPDATE {{keys}} SET held_micros = GREATEST(held_micros - h.amount_micros, 0)
      WHERE id = h.principal_id OR id = h.pool_id;
    IF a.account_id IS NOT NULL THEN
      UPDATE {{_accounts}} SET held_micros = {{_account_open_sum}}(a.account_id) WHERE account_id = a.account_id;
    END IF;
  END IF;
  -- A settle answered unavailable never happened: its hold is open again, so the retry settles it
  -- as the first call would have — if the hold is live and still fits every cap now (something
  -- may have taken the room since: then it stays closed, and nothing is charged).
  IF c.kind = 'settle' AND h.id IS NOT NULL AND h.state = 'settled' AND h.expires_at > p_now
      AND {{_cap_holds}}(k.budget_cents, {{_stored_used}}(k.budget_used_micros, k.budget_used_cents) + k.held_micros + h.amount_micros)
      AND (p.id IS NULL
        OR {{_cap_holds}}(p.budget_cents, {{_stored_used}}(p.budget_used_micros, p.budget_used_cents) + p.held_micros + h.amount_micros))
      AND (a.account_id IS NULL OR {{_cap_holds}}(a.budget_cents,
        {{_stored_used}}(a.budget_used_micros, a.budget_used_cents) + h.amount_micros + {{_account_open_sum}}(a.account_id))) THEN
    UPDATE {{_holds}} SET state = 'open', settled_micros = NULL, closed_at = NULL WHERE id = h.id;
    UPDATE {{keys}} SET held_micros = held_micros + h.amount_micros WHERE id = h.principal_id OR id = h.pool_id;
    IF a.account_id IS NOT NULL THEN
      UPDATE {{_accounts}} SET held_micros = {{_account_open_sum}}(a.account_id) WHERE account_id = a.account_id;
    END IF;
    v_reopened := true;
  ELSIF c.kind = 'settle' AND h.id IS NOT NULL AND h.state = 'settled' THEN
    UPDATE {{_holds}} SET state = 'voided', settled_micros = 0 WHERE id = h.id;
  END IF;
  -- Stamped at the call's own time: the void nets the charge out of the period it landed in, and
  -- every later period's ledger still equals its counter.
  IF p_ledger AND k.id IS NOT NULL THEN
    INSERT INTO {{_ledger}} (at, principal_id, subject, account_id, kind, amount_micros, idempotency_key, hold_id, metadata)
      VALUES (c.at, k.id, k.external_subject, k.account_id, 'void', -v_refund, c.idempotency_key, c.hold_id,
        jsonb_build_object('request_id', v_origin, 'voids', c.kind, 'voided_at', p_now));
    -- A counter an admin reset zeroed while it held this charge (the reset's 'adjust' records the
    -- mark it zeroed): that adjust already took the charge off its sums, and the void takes it off
    -- again; give that back, at the call's time as well. A roll or a new period took nothing.
    IF v_refund > 0 AND EXISTS (SELECT 1 FROM {{_ledger}}
        WHERE principal_id = k.id AND kind = 'adjust' AND metadata->>'zeroed' = c.key_mark) THEN
      INSERT INTO {{_ledger}} (at, principal_id, subject, account_id, kind, amount_micros, metadata)
        VALUES (c.at, k.id, k.external_subject, k.account_id, 'adjust', v_refund, jsonb_build_object('request_id', v_origin, 'undoes', 'reset', 'voided_at', p_now));
    END IF;
    IF v_refund > 0 AND p.id IS NOT NULL AND EXISTS (SELECT 1 FROM {{_ledger}}
        WHERE principal_id = p.id AND kind = 'adjust' AND metadata->>'zeroed' = c.pool_mark) THEN
      INSERT INTO {{_ledger}} (at, principal_id, subject, account_id, kind, amount_micros, metadata)
        VALUES (c.at, p.id, p.external_subject, p.account_id, 'adjust', v_refund, jsonb_build_object('request_id', v_origin, 'undoes', 'reset', 'voided_at', p_now));
    END IF;
    IF v_refund > 0 AND c.account_id IS NOT NULL
        AND EXISTS (SELECT 1 FROM {{_ledger}}
        WHERE account_id = a.account_id AND principal_id IS NULL AND kind = 'adjust' AND metadata->>'zeroed' = c.account_mark) THEN
      INSERT INTO {{_ledger}} (at, account_id, kind, amount_micros, metadata)
        VALUES (c.at, a.account_id, 'adjust', v_refund, jsonb_build_object('request_id', v_origin, 'undoes', 'reset', 'voided_at', p_now));
    END IF;
    IF v_reopened THEN
      INSERT INTO {{_ledger}} (at, principal_id, subject, account_id, kind, amount_micros, hold_id, metadata)
        VALUES (p_now, k.id, k.external_subject, k.account_id, 'hold', h.amount_micros, h.id,
          jsonb_build_object('reopened_by', v_origin));
    END IF;
  END IF;
  -- The caller's idempotency key is given back: a retry with it is judged afresh.
  IF c.idempotency_key IS NOT NULL THEN
    DELETE FROM {{_idempotency}} WHERE principal_id = c.principal_id AND op = v_op AND key = c.idempotency_key
      AND request_id = v_origin;
  END IF;
  RETURN 'voided';
END $f$;
