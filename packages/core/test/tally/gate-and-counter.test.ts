import { AgentKey, type Verifier } from '@agentkey/core';
import { recordingPool, testCounter } from '@agentkey/test-support/counter.js';
import { openDb, openStore, STRESS_TIMEOUT_MS } from '@agentkey/test-support/db.js';
import { describe, expect, it } from 'vitest';

const tallyOf = async (pool: { query: (t: string) => Promise<{ rows: unknown[] }> }, table: string) =>
  Object.fromEntries(
    (
      (await pool.query(`SELECT code, sum(count)::int AS n FROM ${table}_refusals GROUP BY code`))
        .rows as Array<{
        code: string;
        n: number;
      }>
    ).map((r) => [r.code, r.n]),
  );

describe('the refusal tally: what counts as one refusal', () => {
  it("counts the gate's final answer once: a first sight is no refusal, a native refusal is one", async () => {
    const { db, ak } = await openStore('postgres');
    try {
      const verifier: Verifier = {
        id: 'tok',
        accepts: (c) => c.startsWith('tok_'),
        verify: async (c) => ({
          ok: true,
          identity: { subject: `ns|${c}`, scopes: null, expiresAt: null, claims: {} },
        }),
      };
      const gate = ak.gate({ verifiers: [verifier], firstSeen: { scopes: null, budgetCents: 100 } });
      // First sight: the store's first answer is `unknown`, then the row is made and the call passes.
      expect((await gate.authenticate('tok_new')).ok).toBe(true);
      const { key } = await ak.create({ accountId: 'a', name: 'n', budgetCents: 1 });
      expect(await gate.authenticate(key, { costCents: 5 })).toMatchObject({
        error: { code: 'budget_exceeded' },
      });
      expect(await gate.authenticate('nobody')).toMatchObject({ error: { code: 'invalid_token' } });
      await ak.close();
      expect(await tallyOf(db.pool, db.table)).toEqual({ budget_exceeded: 1, invalid_token: 1 });
    } finally {
      await db.close();
    }
  });

  it('counts the refusals the Redis counter answers without a PostgreSQL statement', async () => {
    const db = await openDb();
    const tc = testCounter(undefined, { trustMs: 60_000 });
    const pool = recordingPool(db.pool);
    const ak = new AgentKey({ pool, tableName: db.table, timeoutMs: STRESS_TIMEOUT_MS, counter: tc.counter });
    try {
      await ak.migrate();
      const { key } = await ak.create({ accountId: 'acct', budgetCents: 10 });
      expect((await ak.authorize(key, { costCents: 10 })).ok).toBe(true);
      // Until the mirror is built and trusted, refusals come from PostgreSQL.
      for (let i = 0; i < 4; i++) expect((await ak.authorize(key, { costCents: 1 })).ok).toBe(false);
      const before = pool.statements;
      for (let i = 0; i < 50; i++) {
        expect(await ak.authorize(key, { costCents: 1 })).toMatchObject({
          error: { code: 'budget_exceeded' },
        });
      }
      expect(pool.statements - before).toBe(0);
      await ak.close();
      expect(await tallyOf(db.pool, db.table)).toEqual({ budget_exceeded: 54 });
    } finally {
      tc.close();
      await db.close();
    }
  });
});
