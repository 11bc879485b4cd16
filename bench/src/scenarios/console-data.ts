import type pg from 'pg';

/** Row counts of the console scenario: what the issue names. */
export const KEYS = 100_000;
export const LEDGER = 1_000_000;
/** One key carries this many of the ledger rows: the worst key page. */
export const HOT_ROWS = 50_000;

/**
 * Fills a migrated deployment in bulk with SQL (generate_series): 100,000 rows in the keys table
 * (one in five an external subject of one of three issuers, one in fifty pooled under a root,
 * one in twenty revoked, spend spread so some are near their cap), 1,000 accounts with ceilings,
 * 1,000,000 ledger rows over 30 days (50,000 of them on key 1), 1,000 open holds, and 100,000
 * access audit rows with 50 pending requests.
 */
export async function fillConsoleData(admin: pg.Pool, table: string, toolId: string): Promise<void> {
  const q = (sql: string, params: unknown[] = []) => admin.query(sql, params);
  await q(
    `INSERT INTO ${table} (account_id, key_hash, key_prefix, name, scopes, budget_cents, budget_used_cents,
        budget_used_micros, external_subject, pool_parent_id, revoked_at, created_at)
     SELECT 'acct-' || (g % 1000), encode(sha256(convert_to('console-bench:' || g, 'UTF8')), 'hex'),
        'ak_' || left(md5(g::text), 8), 'worker-' || g, ARRAY['chat'], 1000,
        ((g * 37) % 1000), ((g * 37) % 1000)::bigint * 10000,
        CASE WHEN g % 5 = 0 THEN 'https://idp' || (g % 3) || '.test|client-' || g END,
        CASE WHEN g % 50 = 7 AND g > 100 THEN g - 7 END,
        CASE WHEN g % 20 = 3 THEN now() - interval '1 day' END, now() - (g || ' seconds')::interval
       FROM generate_series(1, ${KEYS - 1}) AS g`,
  );
  await q(
    `INSERT INTO ${table}_accounts (account_id, budget_cents, budget_period, budget_reset_at, budget_used_cents, budget_used_micros)
     SELECT 'acct-' || g, 100000, 'month', now() + interval '10 days', g * 10, g * 100000 FROM generate_series(0, 999) AS g`,
  );
  // Key 1 (the hot key) gets HOT_ROWS rows; the rest spread over every key.
  await q(
    `INSERT INTO ${table}_ledger (at, principal_id, subject, account_id, kind, amount_micros)
     SELECT now() - ((g % 720) || ' hours')::interval - ((g % 3600) || ' seconds')::interval,
        CASE WHEN g <= ${HOT_ROWS} THEN 1 ELSE (1 + (g::bigint * 7919) % ${KEYS - 1})::int END, NULL,
        'acct-' || (g % 1000), CASE WHEN g % 10 = 0 THEN 'hold' ELSE 'charge' END, 1000 + (g % 50000)
       FROM generate_series(1, ${LEDGER}) AS g`,
  );
  await q(
    `INSERT INTO ${table}_holds (principal_id, account_id, amount_micros, state, created_at, expires_at)
     SELECT 1 + (g * 13) % ${KEYS - 1}, 'acct-' || (g % 1000), 50000, 'open', now(), now() + interval '1 hour'
       FROM generate_series(1, 1000) AS g`,
  );
  await q(
    `INSERT INTO ${table}_access_audit (at, actor_kind, actor, action, tool_id, agent_id, target, detail)
     SELECT now() - ((g % 43200) || ' minutes')::interval, 'agent', 'key:' || (1 + g % 1000), 'proxy.called',
        $1, 1 + g % 1000, 'grant:1',
        CASE WHEN g % 7 = 0 THEN jsonb_build_object('status', 429, 'code', 'rate_limited')
             ELSE jsonb_build_object('status', 200) END
       FROM generate_series(1, 100000) AS g`,
    [toolId],
  );
  await q(
    `INSERT INTO ${table}_access_grants (tool_id, agent_id, agent_root, agent, status, reason)
     SELECT $1, 2000 + g, 2000 + g, 'key:' || (2000 + g), 'pending', 'needs the tool for job ' || g
       FROM generate_series(1, 50) AS g`,
    [toolId],
  );
  for (const t of ['', '_ledger', '_holds', '_accounts', '_access_audit', '_access_grants'])
    await q(`VACUUM ANALYZE ${table}${t}`);
}
