import type { AgentKey } from '@agentkey/core';
import { BACKENDS, openStore, type TestDb } from '@agentkey/test-support/db.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// A batch returns only the numbers for a caller whose row's descriptor is cached (sql/charges.ts
// DESCRIBED), and the whole row for the others; each answer must still carry its own key's fields.
describe.each(BACKENDS)('batched charges answer each key with its own descriptor (%s)', (backend) => {
  let db: TestDb;
  let ak: AgentKey;
  beforeAll(async () => {
    ({ db, ak } = await openStore(backend));
  });
  afterAll(() => db.close());

  it('32 concurrent charges over 8 keys, half of them described beforehand', async () => {
    const made = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        ak.create({
          accountId: `acct-${i}`,
          name: `key-${i}`,
          scopes: [`s${i}`, 'common'],
          budgetCents: 1_000,
        }),
      ),
    );
    // Keys 0-3 are charged once first, so their descriptors are cached when the batch goes.
    for (const { key } of made.slice(0, 4))
      expect((await ak.authorize(key, { scope: 'common', costCents: 1 })).ok).toBe(true);
    const calls = Array.from({ length: 32 }, (_, i) => made[(i * 3) % 8]!);
    const results = await Promise.all(
      calls.map(({ key }) => ak.authorize(key, { scope: 'common', costCents: 1 })),
    );
    results.forEach((r, i) => {
      const i8 = (i * 3) % 8;
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.principal).toMatchObject({
        id: made[i8]!.id,
        accountId: `acct-${i8}`,
        name: `key-${i8}`,
        scopes: [`s${i8}`, 'common'],
      });
    });
    // Every key's spend is its own calls': 4 per key, plus the first call on keys 0-3.
    for (let i = 0; i < 8; i++) {
      const used = (await ak.getKey(made[i]!.id))!.budget.usedCents;
      expect(used).toBe(4 + (i < 4 ? 1 : 0));
    }
  });
});
