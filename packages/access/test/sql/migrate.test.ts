import { Access } from '@agentkey/access';
import type { AgentKey } from '@agentkey/core';
import { openStore, type TestDb } from '@agentkey/test-support/db.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyB64 } from '../support/setup.js';

describe('the access migrations', () => {
  let db: TestDb;
  let ak: AgentKey;
  let access: Access;

  beforeAll(async () => {
    ({ db, ak } = await openStore('postgres'));
    access = new Access({ ak, pool: db.pool, secretKeys: `k1:${keyB64()}` });
  });
  afterAll(async () => db?.close());

  it('apply once, recorded in their own version table named from the keys table, safe run concurrently', async () => {
    await Promise.all([access.migrate(), access.migrate(), access.migrate()]);
    await access.migrate();
    const { rows } = await db.pool.query(`SELECT name, checksum FROM ${db.table}_access_version`);
    expect(rows.map((r: { name: string }) => r.name)).toEqual(['001_access.sql', '002_slip_tokens.sql']);
    const tables = await db.pool.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_name LIKE 'sdk_api_keys_access_%' ORDER BY 1`,
      [db.schema],
    );
    expect(tables.rows.map((r: { table_name: string }) => r.table_name)).toEqual([
      'sdk_api_keys_access_audit',
      'sdk_api_keys_access_grants',
      'sdk_api_keys_access_slips',
      'sdk_api_keys_access_suggest',
      'sdk_api_keys_access_tools',
      'sdk_api_keys_access_version',
    ]);
  });

  it('the audit log is append-only, enforced by the database: UPDATE, DELETE and TRUNCATE refused', async () => {
    await access.migrate();
    await access.defineTool(
      {
        id: 'github',
        name: 'GitHub',
        baseUrl: 'https://api.github.com/',
        methods: ['GET'],
        pathPrefixes: ['/'],
      },
      { kind: 'human', id: 'alice' },
    );
    const audit = `${db.table}_access_audit`;
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM ${audit}`);
    expect(rows[0].n).toBe(1);
    for (const sql of [
      `UPDATE ${audit} SET actor = 'mallory'`,
      `DELETE FROM ${audit}`,
      `TRUNCATE ${audit}`,
    ]) {
      await expect(db.pool.query(sql)).rejects.toThrow(/append-only/);
    }
    const after = await db.pool.query(`SELECT actor FROM ${audit}`);
    expect(after.rows).toEqual([{ actor: 'alice' }]);
  });

  it('refuses a keys table name that is not an identifier, before any SQL', () => {
    expect(
      () =>
        new Access({
          ak: { ...ak, tableName: 'x; DROP TABLE y', authorize: ak.authorize } as unknown as AgentKey,
          pool: db.pool,
          secretKeys: `k1:${keyB64()}`,
        }),
    ).toThrow(/tableName must be an SQL identifier/);
  });
});
