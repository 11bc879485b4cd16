import { BACKENDS, openStore } from '@agentkey/test-support/db.js';
import { describe, expect, it } from 'vitest';

describe.each(BACKENDS)('migration 003: the console indexes (%s)', (backend) => {
  it('creates the console indexes (ledger covering, pool parent, status, search), none on a column a charge writes', async () => {
    const { db } = await openStore(backend);
    try {
      const { rows } = await db.pool.query(
        `SELECT indexname FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname`,
        [db.schema],
      );
      expect(rows.map((r: { indexname: string }) => r.indexname)).toEqual(
        expect.arrayContaining([
          'sdk_api_keys_ledger_principal_cover',
          'sdk_api_keys_revoked_idx',
          'sdk_api_keys_name_search_idx',
          'sdk_api_keys_pool_parent_idx',
        ]),
      );
      // 001's narrower (principal_id, at) index gives way to the covering one.
      expect(rows.map((r: { indexname: string }) => r.indexname)).not.toContain(
        'sdk_api_keys_ledger_principal_idx',
      );
      // A charge, hold or settle writes these columns: an index naming one would make every such
      // update non-HOT (index entries written on the request path).
      const defs = await db.pool.query(
        `SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2`,
        [db.schema, 'sdk_api_keys'],
      );
      const hot =
        /budget_used_micros|budget_used_cents|held_micros|budget_reset_at|rate_[a-z_]+|last_used_at/;
      expect(
        defs.rows.map((r: { indexdef: string }) => r.indexdef).filter((d: string) => hot.test(d)),
      ).toEqual([]);
    } finally {
      await db.close();
    }
  }, 120_000);
});
