import { readFileSync } from 'node:fs';
import { AgentKey } from '@agentkey/core';
import { BACKENDS, openDb, type TestDb } from '@agentkey/test-support/db.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../../src/keys/secret.js';

/** A deployment at 001: the schema, engine functions and version rows the release before 002 left. */
const SCHEMA_001 = readFileSync(new URL('./fixtures/schema-001.sql', import.meta.url), 'utf8');

describe.each(BACKENDS)('migrate() from 001 to 002_rate_limits (%s)', (backend) => {
  let db: TestDb;
  beforeAll(async () => {
    db = await openDb(backend);
  });
  afterAll(() => db.close());

  it('upgrades a 001 deployment with keys, spend, an open hold and an account ceiling', async () => {
    const table = `${db.schema}.sdk_api_keys`;
    const q = async (sql: string, params: unknown[] = []) => (await db.pool.query(sql, params)).rows;
    await q(SCHEMA_001.replaceAll('{{schema}}', db.schema));
    // Data made by the old release: a key (its INSERT), a charge of 1 ¢ with a hold of 10 ¢ (its
    // engine function), an account ceiling.
    const key = 'ak_old0000000000000000000000000000000000000000000000';
    const [{ id }] = await q(
      `INSERT INTO ${table} (account_id, key_hash, key_prefix, name, budget_cents, budget_used_cents, budget_used_micros,
        account_capped) VALUES ('old', $1, 'ak_old00', 'old', 100, 0, 0, false) RETURNING id`,
      [hashKey(key)],
    );
    const [charged] = await q(
      `SELECT outcome, hold_id FROM ${table}_charge($1, now(), 10000, NULL, true, false, 100000,
        now() + interval '15 minutes', NULL, 'charge', true, NULL, gen_random_uuid(), 0)`,
      [hashKey(key)],
    );
    expect(charged.outcome).toBe('ok');
    await q(`SELECT ${table}_set_account_budget('old', now(), 1000, NULL, NULL, 'test')`);

    const before001 = await q(
      `SELECT checksum, applied_at FROM ${table}_schema_version WHERE name = '001_tables.sql'`,
    );
    // Two processes upgrade at once: one applies 002 and the new functions, the other finds it done.
    const ak = new AgentKey({ pool: db.pool, tableName: table, ledger: true });
    await Promise.all([ak.migrate(), new AgentKey({ pool: db.pool, tableName: table }).migrate()]);
    const versions = await q(`SELECT name FROM ${table}_schema_version ORDER BY name`);
    expect(versions.map((r) => r.name)).toEqual([
      '001_tables.sql',
      '002_rate_limits.sql',
      '003_console_indexes.sql',
      '004_refusals.sql',
      '005_fillfactor.sql',
      'functions',
    ]);
    // 002 was applied on its own: 001 was not run again.
    expect(
      await q(`SELECT checksum, applied_at FROM ${table}_schema_version WHERE name = '001_tables.sql'`),
    ).toEqual(before001);
    const attrs = await q(
      `SELECT attname FROM pg_attribute WHERE attrelid = (SELECT typrelid FROM pg_type WHERE oid = to_regtype($1))
        AND attname LIKE 'rate\\_%' AND NOT attisdropped ORDER BY attnum`,
      [`${table}_engine_row`],
    );
    expect(attrs.map((r) => r.attname)).toEqual([
      'rate_policy',
      'rate_kind',
      'rate_limit',
      'rate_remaining',
      'rate_reset_sec',
      'rate_window_sec',
    ]);

    // The old rows read as before, with no rate limit; the old hold settles (the account counts
    // from its ceiling on: the settle, not the charge before it).
    const info = await ak.getKey(id);
    expect(info).toMatchObject({ rateLimit: null, budget: { usedCents: 1, heldCents: 10 } });
    expect(await ak.settle(String(charged.hold_id), { costCents: 3 })).toMatchObject({
      ok: true,
      chargedCents: 3,
    });
    expect((await ak.getAccount('old'))!).toMatchObject({ limitCents: 1000, usedCents: 3, rateLimit: null });

    // And the old key and account take rate limits.
    await ak.update(id, { rateLimit: { requests: 2 } });
    await ak.setAccountRateLimit('old', { cents: 1000 });
    expect((await ak.authorize(key, { costCents: 1 })).ok).toBe(true);
    expect((await ak.authorize(key, { costCents: 1 })).ok).toBe(true);
    const third = await ak.authorize(key, { costCents: 1 });
    expect(third.ok ? null : third.error.code).toBe('rate_limited');
    expect((await ak.getKey(id))!.budget.usedCents).toBe(6);

    // A further migrate() has nothing to do.
    await ak.migrate();
    expect(await q(`SELECT count(*)::int AS n FROM ${table}_schema_version`)).toEqual([{ n: 6 }]);
  });

  it("re-creates 002's table when it was dropped after 002 was recorded", async () => {
    const table = `${db.schema}.repair_keys`;
    const ak = new AgentKey({ pool: db.pool, tableName: table });
    await ak.migrate();
    await db.pool.query(`DROP TABLE ${table}_rate_windows`);
    await ak.migrate();
    expect(await ak.rateLimitHit('after-repair', { requests: 1 })).toEqual({ ok: true });
  });
});
