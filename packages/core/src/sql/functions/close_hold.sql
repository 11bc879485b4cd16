-- Settle (charge the actual cost, free the rest) or release (free it all) one hold.

-- Closes this key's expired holds and takes them off its (and its pool parent's) upper bound.
-- Only rows the caller has locked are written, so it cannot deadlock.
CREATE OR REPLACE FUNCTION {{_expire_holds}}(p_principal integer, p_pool integer, p_now timestamptz, p_ledger boolean)
  RETURNS void LANGUAGE plpgsql AS $f$
DECLARE v_total bigint;
BEGIN
  WITH gone AS (
    UPDATE {{_holds}} SET state = 'expired', closed_at = p_now
      WHERE principal_id = p_principal AND state = 'open' AND expires_at <= p_now
      RETURNING id, account_id, amount_micros
  ), logged AS (
    INSERT INTO {{_ledger}} (at, principal_id, account_id, kind, amount_micros, hold_id)
      SELECT p_now, p_principal, account_id, 'expire', amount_micros, id FROM gone WHERE p_ledger
  )
  SELECT COALESCE(sum(amount_micros), 0) INTO v_total FROM gone;
  IF v_total > 0 THEN
    UPDATE {{keys}} SET held_micros = GREATEST(held_micros - v_total, 0) WHERE id = p_principal OR id = p_pool;
  END IF;
END $f$;

CREATE OR REPLACE FUNCTION {{_close_hold}}(p_hold bigint, p_now timestamptz, p_cost bigint, p_settle boolean,
  p_idem text, p_ledger boolean, p_meta jsonb, p_rid uuid, p_lock_ms integer) RETURNS SETOF {{_engine_row}} LANGUAGE plpgsql AS $f$
#variable_conflict use_column
DECLARE
  h {{_holds}}%ROWTYPE;
  k {{keys}}%ROWTYPE;
  p {{keys}}%ROWTYPE;
  a {{_accounts}}%ROWTYPE;
  v_outcome text := 'ok';
  v_cap text;
  v_charge bigint := 0;
  v_room bigint;
  v_k_used bigint;
  v_p_used bigint;
  v_a_used bigint;
  v_replayed boolean := false;
  v_op text := CASE WHEN p_settle THEN 'settle' ELSE 'release' END;
  v_orig_rid uuid;
BEGIN
  IF p_lock_ms > 0 THEN PERFORM set_config('lock_timeout', p_lock_ms || 'ms', true); END IF;
  SELECT * INTO h FROM {{_holds}} WHERE id = p_hold;
  IF h.id IS NULL THEN
    RETURN NEXT {{_no_row}}('no_hold', p_hold);
    RETURN;
  END IF;
  IF p_idem IS NOT NULL THEN
    INSERT INTO {{_idempotency}} (principal_id, op, key, hold_id, created_at, request_id)
      VALUES (h.principal_id, v_op, p_idem, p_hold, p_now, p_rid) ON CONFLICT DO NOTHING;
    v_replayed := NOT FOUND;
    IF v_replayed THEN
      -- Waits for a void in progress; a key it gave back is claimed again.
      PERFORM 1 FROM {{_idempotency}} i WHERE i.principal_id = h.principal_id AND i.op = v_op AND i.key = p_idem FOR UPDATE;
      IF NOT FOUND THEN
        INSERT INTO {{_idempotency}} (principal_id, op, key, hold_id, created_at, request_id)
          VALUES (h.principal_id, v_op, p_idem, p_hold, p_now, p_rid);
        v_replayed := false;
      END IF;
    END IF;
    -- The same key used for another hold is a client bug, not a replay.
    IF v_replayed AND NOT EXISTS (SELECT 1 FROM {{_idempotency}} i WHERE i.principal_id = h.principal_id AND i.op = v_op
        AND i.key = p_idem AND i.hold_id = p_hold) THEN
      RETURN NEXT {{_no_row}}('idempotency_conflict', p_hold);
      RETURN;
    END IF;
  END IF;
  -- Lock order as in charge: pool parent, key, account; then the hold itself.
  IF h.pool_id IS NOT NULL THEN SELECT * INTO p FROM {{keys}} WHERE id = h.pool_id FOR UPDATE; END IF;
  SELECT * INTO k FROM {{keys}} WHERE id = h.principal_id FOR UPDATE;
  -- The account is charged by the key's ceiling now, not when the hold was taken.
  IF k.account_capped THEN SELECT * INTO a FROM {{_accounts}} WHERE account_id = k.account_id FOR UPDATE; END IF;
  SELECT * INTO h FROM {{_holds}} WHERE id = p_hold FOR UPDATE;

  IF v_replayed THEN
    SELECT i.charged_micros, i.request_id INTO v_charge, v_orig_rid FROM {{_idempotency}} i
      WHERE i.principal_id = h.principal_id AND i.op = v_op AND i.key = p_idem;
    v_outcome := 'ok';
    IF v_outcome = 'ok' AND v_orig_rid IS NOT NULL AND v_orig_rid <> p_rid THEN
        INSERT INTO {{_requests}} (request_id, at, kind, origin, principal_id, idempotency_key)
          VALUES (p_rid, p_now, v_op, v_orig_rid, h.principal_id, p_idem);
      END IF;
  ELSIF h.state <> 'open' AND EXISTS (SELECT 1 FROM {{_requests}} c WHERE c.request_id = p_rid AND c.kind = v_op
      AND c.hold_id = h.id AND c.voided_at IS NULL) THEN
    -- This very request closed the hold (a first attempt whose answer was lost, retried once):
    -- its committed outcome is the answer, not hold_closed.
    SELECT c.charged_micros INTO v_charge FROM {{_requests}} c WHERE c.request_id = p_rid;
    v_outcome := 'ok';
    v_replayed := true;
  ELSIF h.state = 'open' AND h.expires_at <= p_now THEN
    PERFORM {{_expire_holds}}(h.principal_id, h.pool_id, p_now, p_ledger);
    v_outcome := 'hold_expired';
  ELSIF h.state <> 'open' THEN
    v_outcome := 'hold_' || h.state;
  ELSE
    v_k_used := {{_used_now}}(k.budget_used_micros, k.budget_used_cents, k.budget_reset_at, p_now);
    IF {{_elapsed}}(k.budget_reset_at, p_now) THEN k.budget_reset_at := {{_next_reset}}(k.budget_period, p_now, k.budget_reset_at); END IF;
    IF p.id IS NOT NULL THEN
      v_p_used := {{_used_now}}(p.budget_used_micros, p.budget_used_cents, p.budget_reset_at, p_now);
      IF {{_elapsed}}(p.budget_reset_at, p_now) THEN p.budget_reset_at := {{_next_reset}}(p.budget_period, p_now, p.budget_reset_at); END IF;
    END IF;
    IF a.account_id IS NOT NULL THEN
      v_a_used := {{_used_now}}(a.budget_used_micros, a.budget_used_cents, a.budget_reset_at, p_now);
      IF {{_elapsed}}(a.budget_reset_at, p_now) THEN a.budget_reset_at := {{_next_reset}}(a.budget_period, p_now, a.budget_reset_at); END IF;
    END IF;
    IF p_settle THEN
      -- The hold's own amount is freed first; a cost above it takes only what every cap still allows.
      v_charge := p_cost;
      IF k.budget_cents IS NOT NULL THEN
        v_room := {{_cap_micros}}(k.budget_cents) - v_k_used - {{_held_sum}}(k.id, p_now, h.id);
        IF v_charge > v_room THEN v_charge := GREATEST(v_room, 0); v_cap := 'key'; END IF;
      END IF;
      IF p.id IS NOT NULL AND p.budget_cents IS NOT NULL THEN
        v_room := {{_cap_micros}}(p.budget_cents) - v_p_used - {{_held_sum}}(p.id, p_now, h.id);
        IF v_charge > v_room THEN v_charge := GREATEST(v_room, 0); v_cap := 'pool'; END IF;
      END IF;
      IF a.account_id IS NOT NULL AND a.budget_cents IS NOT NULL THEN
        v_room := {{_cap_micros}}(a.budget_cents) - v_a_used - {{_account_held_sum}}(a.account_id, p_now, h.id);
        IF v_charge > v_room THEN v_charge := GREATEST(v_room, 0); v_cap := 'account'; END IF;
      END IF;
    END IF;
    UPDATE {{_holds}} SET state = CASE WHEN p_settle THEN 'settled' ELSE 'released' END, settled_micros = v_charge,
      closed_at = p_now WHERE id = h.id;
    UPDATE {{keys}} SET budget_used_micros = v_k_used + v_charge,
        budget_used_cents = {{_cents_of}}(v_k_used + v_charge),
        budget_reset_at = k.budget_reset_at, held_micros = GREATEST(held_micros - h.amount_micros, 0)
      WHERE id = k.id RETURNING budget_used_micros, held_micros INTO k.budget_used_micros, k.held_micros;
    v_k_used := k.budget_used_micros;
    IF p.id IS NOT NULL THEN
      v_p_used := {{_spend_pool}}(p.id, v_p_used, v_charge, p.budget_reset_at, -h.amount_micros);
    END IF;
    IF a.account_id IS NOT NULL THEN
      v_a_used := {{_spend_account}}(a.account_id, v_a_used, v_charge, a.budget_reset_at, p_now);
    END IF;
    -- The rate windows counted the hold's amount when it was reserved: they count its cost instead
    -- (sql/rate-rules.ts). The account's row is locked here, after the key and the hold.
    PERFORM {{_rate_give_key}}(k.id, p_now, h.created_at, v_charge - h.amount_micros);
    IF k.account_id IS NOT NULL THEN
      PERFORM {{_rate_give_account}}(k.account_id, p_now, h.created_at, v_charge - h.amount_micros);
    END IF;
    IF p_idem IS NOT NULL THEN
      UPDATE {{_idempotency}} SET charged_micros = v_charge, shortfall_micros = p_cost - v_charge
        WHERE principal_id = h.principal_id AND op = v_op AND key = p_idem;
    END IF;
    INSERT INTO {{_requests}} (request_id, at, kind, principal_id, pool_id, account_id, charged_micros, hold_id,
          idempotency_key, key_mark, pool_mark, account_mark)
        VALUES (p_rid, p_now, v_op, h.principal_id, h.pool_id, a.account_id, v_charge, h.id, p_idem,
          {{_mark}}(k.budget_resets, k.budget_reset_at), {{_mark}}(p.budget_resets, p.budget_reset_at), {{_mark}}(a.budget_resets, a.budget_reset_at));
    IF p_ledger THEN
      INSERT INTO {{_ledger}} (at, principal_id, subject, account_id, kind, amount_micros, idempotency_key, hold_id, metadata)
        VALUES (p_now, k.id, k.external_subject, k.account_id, v_op, v_charge, p_idem, h.id,
          CASE WHEN p_settle AND v_charge < p_cost
            THEN COALESCE(p_meta, '{}'::jsonb) || jsonb_build_object('shortfall_micros', p_cost - v_charge, 'cap', v_cap)
            ELSE p_meta END);
    END IF;
  END IF;
  IF v_outcome <> 'ok' AND p_idem IS NOT NULL AND NOT v_replayed THEN
    DELETE FROM {{_idempotency}} WHERE principal_id = h.principal_id AND op = v_op AND key = p_idem;
  END IF;
  RETURN QUERY SELECT v_outcome, v_cap, h.id, v_charge::float8, GREATEST(p_cost - v_charge, 0)::float8, v_replayed,
    k.id, k.account_id, k.user_id, k.name, k.scopes, k.budget_cents, k.budget_period, k.delegated_by, k.external_subject,
    date_part('epoch', k.expires_at) * 1000, date_part('epoch', k.revoked_at) * 1000, COALESCE(v_k_used, {{_stored_used}}(k.budget_used_micros, k.budget_used_cents))::float8,
    {{_held_now}}(k.id, k.held_micros, p_now)::float8,
    date_part('epoch', k.budget_reset_at) * 1000, a.budget_cents, v_a_used::float8, date_part('epoch', a.budget_reset_at) * 1000,
    h.amount_micros::float8, date_part('epoch', h.expires_at) * 1000, date_part('epoch', p.budget_reset_at) * 1000,
    {{_account_held_now}}(a.account_id, a.held_micros, p_now)::float8,
    p.id, p.budget_cents, COALESCE(v_p_used, {{_stored_used}}(p.budget_used_micros, p.budget_used_cents))::float8,
    -- Summed: p.held_micros is stale when expire_holds ran above.
    (CASE WHEN p.id IS NOT NULL THEN {{_held_sum}}(p.id, p_now, NULL) END)::float8,
    NULL::text, NULL::text, NULL::float8, NULL::float8, NULL::float8, NULL::float8;
END $f$;
