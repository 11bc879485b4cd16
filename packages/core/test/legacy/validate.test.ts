import type { AgentKey } from '@agentkey/core';
import { openStore, type TestDb } from '@agentkey/test-support/db.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Review: 0.2.0 results keep their exact shape; admin and zero expiry on every entry point.
describe('0.2.0 shapes, admin, zero expiry', () => {
  let db: TestDb;
  let ak: AgentKey;
  beforeAll(async () => {
    ({ db, ak } = await openStore('postgres', { validScopes: ['read', 'write'] }));
  });
  afterAll(() => db.close());

  it("validate's success result has exactly 0.2.0's fields (users compare it with toEqual)", async () => {
    const { key } = await ak.create({ accountId: 'c', budgetCents: 100 });
    const v = await ak.validate(key);
    expect(Object.keys(v).sort()).toEqual(
      [
        'valid',
        'id',
        'accountId',
        'userId',
        'scopes',
        'budgetCents',
        'budgetUsedCents',
        'budgetRemainingCents',
        'budgetPeriod',
        'budgetResetAt',
        'expiresAt',
        'delegatedBy',
        'name',
      ].sort(),
    );
  });

  it('admin is refused by update and updateSubject when validScopes lacks it', async () => {
    const { id } = await ak.create({ accountId: 'c', scopes: ['read'] });
    await expect(ak.update(id, { scopes: ['admin'] })).rejects.toThrow('Invalid scopes: admin');
    await ak.ensureSubject('ns|s1', { scopes: ['read'] });
    await expect(ak.updateSubject('ns|s1', { scopes: ['read', 'admin'] })).rejects.toThrow(
      'Invalid scopes: admin',
    );
    expect((await ak.validateBySubject('ns|s1')) as { scopes?: unknown }).toMatchObject({ scopes: ['read'] });
  });

  it('zero expiry: 0.2.0 calls keep it, new ones refuse it', async () => {
    await expect(ak.create({ accountId: 'c', expiresIn: '0h' })).resolves.toMatchObject({ scopes: null });
    await expect(ak.ensureSubject('ns|s2', { expiresIn: '0m' })).resolves.toBeUndefined();
    const { id, key } = await ak.create({ accountId: 'c', expiresIn: '1h', scopes: ['read'] });
    await expect(ak.update(id, { expiresIn: '0d' })).rejects.toThrow(/expiresIn/);
    await expect(ak.withChildKey(key, { expiresIn: '0h' }, () => 1)).rejects.toThrow(/expiresIn/);
  });
});
