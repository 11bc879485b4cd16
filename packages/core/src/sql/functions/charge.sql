-- Charge and/or reserve against a key or subject, its pool parent and its account. Outcomes:
-- ok, unknown, revoked, expired, scope, budget (cap = key | pool | account), rate_limited (rate_policy =
-- key | account, rate_kind = requests | cents; the rule is sql/rate-rules.ts's).
CREATE OR REPLACE FUNCTION {{_charge}}(p_value text, p_now timestamptz, p_cost bigint, p_scope text,
  p_token_ok boolean, p_by_subject boolean, p_hold bigint, p_hold_until timestamptz, p_idem text, p_op text,
  p_ledger boolean, p_meta jsonb, p_rid uuid, p_lock_ms integer) RETURNS SETOF {{_engine_row}} LANGUAGE plpgsql AS $f$
#variable_conflict use_column
DECLARE
  k {{keys}}%ROWTYPE;
  v_try integer;
  v_orig_rid uuid;
  p {{keys}}%ROWTYPE;
  a {{_accounts}}%ROWTYPE;
  v_id integer;
  v_account text;
  v_capped boolean;
  v_pool integer;
  v_outcome text := 'ok';
  v_cap text;
  v_hold_id bigint;
  v_replayed boolean := false;
  v_k_used bigint;
  v_p_used bigint;
  v_a_used bigint;
  v_k_held bigint := 0;
  v_p_held bigint := 0;
  v_a_held bigint := 0;
  v_orig bigint := 0;
  v_k_reset boolean := false;
  v_need bigint := p_cost + p_hold;
  v_k_rate text;
  v_a_limited boolean := false;
  v_rate_policy text;
  v_rate_kind text;
BEGIN
  IF p_lock_ms > 0 THEN PERFORM set_config('lock_timeout', p_lock_ms || 'ms', true); END IF;
  -- Who: read without a lock to learn the row and its account.
  IF p_by_subject THEN
    SELECT x.id, x.account_id, x.account_capped, x.pool_parent_id INTO v_id, v_account, v_capped, v_pool
      FROM {{keys}} x WHERE x.external_subject = p_value;
  ELSE
    SELECT x.id, x.account_id, x.account_capped, x.pool_parent_id INTO v_id, v_account, v_capped, v_pool
      FROM {{keys}} x WHERE x.key_hash = p_value;
  END IF;
  IF v_id IS NULL THEN
    RETURN NEXT {{_no_row}}('unknown', NULL::bigint);
    RETURN;
  END IF;

  -- Exactly once: claim the idempotency key first. A concurrent duplicate waits here on the
  -- primary key until this transaction ends, then finds the claim and replays its outcome. The
  -- claim is read FOR UPDATE: a void in progress (requests.ts) gives the key back, and then the
  -- key is claimed afresh.
  IF p_idem IS NOT NULL THEN
    FOR v_try IN 1..3 LOOP
      INSERT INTO {{_idempotency}} (principal_id, op, key, created_at, request_id) VALUES (v_id, p_op, p_idem, p_now, p_rid)
        ON CONFLICT DO NOTHING;
      EXIT WHEN FOUND;
      SELECT i.hold_id, i.charged_micros, i.request_id INTO v_hold_id, v_orig, v_orig_rid FROM {{_idempotency}} i
        WHERE i.principal_id = v_id AND i.op = p_op AND i.key = p_idem FOR UPDATE;
      IF FOUND THEN
        v_replayed := true;
        p_cost := 0; p_hold := 0; v_need := 0;
        EXIT;
      END IF;
      IF v_try = 3 THEN RAISE EXCEPTION 'agentkey: idempotency key % keeps changing hands', p_idem USING ERRCODE = '40001'; END IF;
    END LOOP;
  END IF;

  -- Whether the account has a ceiling is settled under the lock set_account_budget takes.
  IF v_capped IS NULL AND v_account IS NOT NULL THEN
    PERFORM {{_account_lock}}(v_account);
  END IF;

  -- Row locks in id order (a pool parent is older than its children), then the account.
  IF v_pool IS NOT NULL THEN
    SELECT * INTO p FROM {{keys}} x WHERE x.id = v_pool FOR UPDATE;
  END IF;
  SELECT * INTO k FROM {{keys}} x WHERE x.id = v_id FOR UPDATE;
  IF NOT FOUND THEN
    -- Deleted between the first read and the lock: unknown, never a pass.
    IF p_idem IS NOT NULL AND NOT v_replayed THEN
      DELETE FROM {{_idempotency}} WHERE principal_id = v_id AND op = p_op AND key = p_idem;
    END IF;
    RETURN NEXT {{_no_row}}('unknown', NULL::bigint);
    RETURN;
  END IF;
  IF k.account_capped IS NULL THEN
    k.account_capped := k.account_id IS NOT NULL AND EXISTS (
      SELECT 1 FROM {{_accounts}} WHERE account_id = k.account_id AND budget_cents IS NOT NULL);
    UPDATE {{keys}} SET account_capped = k.account_capped WHERE id = k.id;
  END IF;

  -- Period resets, in the same transaction as the charge.
  -- Each counter's use this period, its period rolled first if it elapsed (the new reset is
  -- written back with the charge).
  v_k_used := {{_used_now}}(k.budget_used_micros, k.budget_used_cents, k.budget_reset_at, p_now);
  v_k_reset := {{_elapsed}}(k.budget_reset_at, p_now);
  IF v_k_reset THEN k.budget_reset_at := {{_next_reset}}(k.budget_period, p_now, k.budget_reset_at); END IF;
  IF p.id IS NOT NULL THEN
    v_p_used := {{_used_now}}(p.budget_used_micros, p.budget_used_cents, p.budget_reset_at, p_now);
    IF {{_elapsed}}(p.budget_reset_at, p_now) THEN p.budget_reset_at := {{_next_reset}}(p.budget_period, p_now, p.budget_reset_at); END IF;
  END IF;

  -- Holds past their TTL stop counting: every sum below reads only unexpired open holds, under the
  -- locks that every hold change also takes, so no sweeper is needed. This key's own expired holds
  -- are closed here as well (lazy cleanup).
  IF k.held_micros > 0 THEN
    PERFORM {{_expire_holds}}(k.id, k.pool_parent_id, p_now, p_ledger);
    SELECT x.held_micros INTO k.held_micros FROM {{keys}} x WHERE x.id = k.id;
  END IF;
  -- A pool parent's own cap also carries its pooled children's holds.
  v_k_held := CASE WHEN k.held_micros = 0 THEN 0 ELSE {{_held_sum}}(k.id, p_now, NULL) END;
  IF p.id IS NOT NULL THEN
    v_p_held := {{_held_sum}}(p.id, p_now, NULL);
  END IF;

  -- A replay was counted by its first call; a refusal counts nothing (sql/rate-rules.ts).
  IF NOT v_replayed THEN
    v_k_rate := {{_rate_refusal}}(k.rate_requests, k.rate_cents, k.rate_window_sec, k.rate_window_at, k.rate_count,
      k.rate_micros, p_now, v_need);
  END IF;

  -- A replay is still a request: revocation, expiry and scope bind it as they bind any other (an
  -- old idempotency key must never open a door). Only the budget was settled by the first call.
  IF k.revoked_at IS NOT NULL OR (k.pool_parent_id IS NOT NULL AND (p.id IS NULL OR p.revoked_at IS NOT NULL))
    THEN v_outcome := 'revoked';
  ELSIF (k.expires_at IS NOT NULL AND k.expires_at <= p_now) OR (p.id IS NOT NULL AND p.expires_at IS NOT NULL AND p.expires_at <= p_now) THEN v_outcome := 'expired';
  ELSIF NOT p_token_ok OR NOT {{_scope_ok}}(p_scope, k.scopes) THEN v_outcome := 'scope';
  ELSIF v_replayed THEN NULL;
  ELSIF NOT {{_cap_fits}}(k.budget_cents, v_k_used + v_k_held, v_need) THEN v_outcome := 'budget'; v_cap := 'key';
  ELSIF p.id IS NOT NULL AND NOT {{_cap_fits}}(p.budget_cents, v_p_used + v_p_held, v_need) THEN
    v_outcome := 'budget'; v_cap := 'pool';
  ELSIF v_k_rate IS NOT NULL THEN v_outcome := 'rate_limited'; v_rate_policy := 'key'; v_rate_kind := v_k_rate;
  END IF;

  -- The account row is the most contended lock (every key of the account wants it): take it last,
  -- only when every other check passed, and hold it just through the writes below.
  -- An account with a rate limit but no ceiling is locked as well, for its window.
  IF v_outcome = 'ok' AND NOT k.account_capped AND k.account_id IS NOT NULL THEN
    v_a_limited := EXISTS (SELECT 1 FROM {{_accounts}} x WHERE x.account_id = k.account_id AND x.rate_window_sec IS NOT NULL);
  END IF;
  IF v_a_limited AND v_outcome = 'ok' THEN
    SELECT * INTO a FROM {{_accounts}} x WHERE x.account_id = k.account_id FOR UPDATE;
  END IF;
  IF k.account_capped AND v_outcome = 'ok' THEN
    SELECT * INTO a FROM {{_accounts}} x WHERE x.account_id = k.account_id FOR UPDATE;
    v_a_used := {{_used_now}}(a.budget_used_micros, a.budget_used_cents, a.budget_reset_at, p_now);
    IF {{_elapsed}}(a.budget_reset_at, p_now) THEN a.budget_reset_at := {{_next_reset}}(a.budget_period, p_now, a.budget_reset_at); END IF;
    IF a.budget_cents IS NOT NULL THEN
      -- Summed for a replay too: its answer reports what the account holds now.
      v_a_held := {{_account_held_sum}}(k.account_id, p_now, NULL);
      IF NOT v_replayed AND NOT {{_cap_fits}}(a.budget_cents, v_a_used + v_a_held, v_need) THEN
        v_outcome := 'budget'; v_cap := 'account';
      END IF;
    END IF;
  END IF;
  IF v_outcome = 'ok' AND NOT v_replayed AND a.rate_window_sec IS NOT NULL THEN
    v_rate_kind := {{_rate_refusal}}(a.rate_requests, a.rate_cents, a.rate_window_sec, a.rate_window_at, a.rate_count,
      a.rate_micros, p_now, v_need);
    IF v_rate_kind IS NOT NULL THEN v_outcome := 'rate_limited'; v_rate_policy := 'account'; END IF;
  END IF;

  IF v_outcome <> 'ok' THEN
    -- Nothing charged: give the idempotency key back so a retry is judged afresh (a refused
    -- replay keeps the first call's claim).
    IF p_idem IS NOT NULL AND NOT v_replayed THEN
      DELETE FROM {{_idempotency}} WHERE principal_id = v_id AND op = p_op AND key = p_idem;
    END IF;
  ELSE
    IF p_hold > 0 THEN
      INSERT INTO {{_holds}} (principal_id, pool_id, account_id, amount_micros, created_at, expires_at)
        VALUES (k.id, p.id, k.account_id, p_hold, p_now, p_hold_until)
        RETURNING id INTO v_hold_id;
    END IF;
    -- A free call writes the row only to roll its period or refresh a minute-old last_used_at.
    IF p_cost > 0 OR p_hold > 0 OR v_k_reset OR k.last_used_at IS NULL OR k.last_used_at < p_now - interval '60 seconds' THEN
      UPDATE {{keys}} SET budget_used_micros = v_k_used + p_cost,
          budget_used_cents = {{_cents_of}}(v_k_used + p_cost),
          budget_reset_at = k.budget_reset_at,
          held_micros = held_micros + p_hold,
          last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < p_now - interval '60 seconds' THEN p_now ELSE last_used_at END
        WHERE id = k.id RETURNING budget_used_micros, held_micros INTO k.budget_used_micros, k.held_micros;
      v_k_used := k.budget_used_micros;
    END IF;
    IF p.id IS NOT NULL THEN
      v_p_used := {{_spend_pool}}(p.id, v_p_used, p_cost, p.budget_reset_at, p_hold);
    END IF;
    -- Counted in each rate window it passed (a replay was counted by its first call).
    IF NOT v_replayed AND k.rate_window_sec IS NOT NULL THEN
      SELECT x.at, x.count, x.micros INTO k.rate_window_at, k.rate_count, k.rate_micros
        FROM {{_rate_take_key}}(k.id, p_now, v_need) x;
    END IF;
    IF NOT v_replayed AND a.rate_window_sec IS NOT NULL THEN
      SELECT x.at, x.count, x.micros INTO a.rate_window_at, a.rate_count, a.rate_micros
        FROM {{_rate_take_account}}(a.account_id, p_now, v_need) x;
    END IF;
    -- A passed call reports the key's window, else the account's.
    IF k.rate_window_sec IS NOT NULL THEN v_rate_policy := 'key'; v_rate_kind := {{_rate_kind}}(k.rate_requests);
    ELSIF a.rate_window_sec IS NOT NULL THEN v_rate_policy := 'account'; v_rate_kind := {{_rate_kind}}(a.rate_requests);
    END IF;
    IF k.account_capped THEN
      v_a_used := {{_spend_account}}(k.account_id, v_a_used, p_cost, a.budget_reset_at, p_now);
    END IF;
    IF p_idem IS NOT NULL AND NOT v_replayed THEN
      UPDATE {{_idempotency}} SET hold_id = v_hold_id, charged_micros = p_cost
        WHERE principal_id = v_id AND op = p_op AND key = p_idem;
    END IF;
    IF NOT v_replayed AND (p_cost > 0 OR p_hold > 0) THEN
      INSERT INTO {{_requests}} (request_id, at, kind, principal_id, pool_id, account_id, charged_micros, hold_id,
          idempotency_key, key_mark, pool_mark, account_mark)
        VALUES (p_rid, p_now, 'charge', k.id, p.id, CASE WHEN k.account_capped THEN k.account_id END, p_cost, v_hold_id, p_idem,
          {{_mark}}(k.budget_resets, k.budget_reset_at), {{_mark}}(p.budget_resets, p.budget_reset_at), {{_mark}}(a.budget_resets, a.budget_reset_at));
    ELSIF v_replayed THEN
      IF v_outcome = 'ok' AND v_orig_rid IS NOT NULL AND v_orig_rid <> p_rid THEN
        INSERT INTO {{_requests}} (request_id, at, kind, origin, principal_id, idempotency_key)
          VALUES (p_rid, p_now, p_op, v_orig_rid, v_id, p_idem);
      END IF;
    END IF;
    IF p_ledger AND NOT v_replayed THEN
      IF p_cost > 0 THEN
        INSERT INTO {{_ledger}} (at, principal_id, subject, account_id, kind, amount_micros, idempotency_key, metadata)
          VALUES (p_now, k.id, k.external_subject, k.account_id, 'charge', p_cost, p_idem, p_meta);
      END IF;
      IF p_hold > 0 THEN
        INSERT INTO {{_ledger}} (at, principal_id, subject, account_id, kind, amount_micros, idempotency_key, hold_id, metadata)
          VALUES (p_now, k.id, k.external_subject, k.account_id, 'hold', p_hold, p_idem, v_hold_id, p_meta);
      END IF;
    END IF;
  END IF;

  RETURN QUERY SELECT v_outcome, v_cap, v_hold_id, (CASE WHEN v_replayed THEN v_orig ELSE p_cost END)::float8, 0::float8, v_replayed,
    k.id, k.account_id, k.user_id, k.name, k.scopes, k.budget_cents, k.budget_period, k.delegated_by, k.external_subject,
    date_part('epoch', k.expires_at) * 1000, date_part('epoch', k.revoked_at) * 1000, v_k_used::float8, (v_k_held + CASE WHEN v_outcome = 'ok' THEN p_hold ELSE 0 END)::float8,
    date_part('epoch', k.budget_reset_at) * 1000, a.budget_cents, v_a_used::float8, date_part('epoch', a.budget_reset_at) * 1000,
    hh.amount_micros::float8, date_part('epoch', hh.expires_at) * 1000, date_part('epoch', p.budget_reset_at) * 1000,
    (v_a_held + CASE WHEN v_outcome = 'ok' THEN p_hold ELSE 0 END)::float8,
    -- The pool root as this call leaves it: a pooled key reports no more room than its pool has.
    p.id, p.budget_cents, v_p_used::float8, (v_p_held + CASE WHEN v_outcome = 'ok' THEN p_hold ELSE 0 END)::float8,
    -- The rate window that refused or, for a passed call, the one it reports (NULL: none).
    v_rate_policy, v_rate_kind,
    (CASE v_rate_policy WHEN 'key' THEN CASE WHEN v_rate_kind = 'requests' THEN k.rate_requests ELSE k.rate_cents END
      WHEN 'account' THEN CASE WHEN v_rate_kind = 'requests' THEN a.rate_requests ELSE a.rate_cents END END)::float8,
    CASE v_rate_policy WHEN 'key' THEN {{_rate_remaining}}(v_rate_kind, k.rate_requests, k.rate_cents, k.rate_count,
        k.rate_micros, k.rate_window_at, k.rate_window_sec, p_now)
      WHEN 'account' THEN {{_rate_remaining}}(v_rate_kind, a.rate_requests, a.rate_cents, a.rate_count, a.rate_micros,
        a.rate_window_at, a.rate_window_sec, p_now) END,
    CASE v_rate_policy WHEN 'key' THEN {{_rate_reset_sec}}(k.rate_window_at, k.rate_window_sec, p_now)
      WHEN 'account' THEN {{_rate_reset_sec}}(a.rate_window_at, a.rate_window_sec, p_now) END,
    (CASE v_rate_policy WHEN 'key' THEN k.rate_window_sec WHEN 'account' THEN a.rate_window_sec END)::float8
    FROM (SELECT 1) one LEFT JOIN {{_holds}} hh ON hh.id = v_hold_id;
END $f$;
