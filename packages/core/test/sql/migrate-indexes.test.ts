import { BACKENDS, openStore } from '@agentkey/test-support/db.js';
import { describe, expect, it } from 'vitest';

describe.each(BACKENDS)('migration 003: the console indexes (%s)', (backend) => {
  it('creates the console indexes (ledger covering and by time, pool parent, spend, cap ratio, status, search), and the planner uses them', async () => {
    const { db } = await openStore(backend);
    try {
      const { rows } = await db.pool.query(
        `SELECT indexname FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname`,
        [db.schema],
      );
      expect(rows.map((r: { indexname: string }) => r.indexname)).toEqual(
        expect.arrayContaining([
          'sdk_api_keys_ledger_at_idx',
          'sdk_api_keys_ledger_principal_cover',
          'sdk_api_keys_revoked_idx',
          'sdk_api_keys_name_search_idx',
          'sdk_api_keys_pool_parent_idx',
          'sdk_api_keys_spend_idx',
          'sdk_api_keys_cap_ratio_idx',
        ]),
      );
      // 001's narrower (principal_id, at) index gives way to the covering one.
      expect(rows.map((r: { indexname: string }) => r.indexname)).not.toContain(
        'sdk_api_keys_ledger_principal_idx',
      );
      // The near-cap listing orders by the indexed expression: the plan reads the index, not a sort of the table.
      const plan = await db.pool.query(
        `EXPLAIN SELECT id FROM ${db.table} WHERE budget_cents > 0 AND revoked_at IS NULL
          ORDER BY ((COALESCE(budget_used_micros, 0) + held_micros)::float8 / budget_cents) DESC LIMIT 10`,
      );
      expect(plan.rows.map((r: Record<string, string>) => Object.values(r)[0]).join('\n')).toContain(
        'sdk_api_keys_cap_ratio_idx',
      );
    } finally {
      await db.close();
    }
  }, 120_000);
});
