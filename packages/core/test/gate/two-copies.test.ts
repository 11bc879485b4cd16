import { openDb, type TestDb } from '@agentkey/test-support/db.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

/**
 * One application can load @agentkey/core twice: its `require` and `import` builds (the dual
 * package hazard: CommonJS code makes the AgentKey, an ES module the Gate), or two installed
 * versions. In 0.3.0 `new Gate(ak)` took any AgentKey and used its public methods. The store port
 * is keyed by `Symbol('agentkey.gateStore')`, which each copy makes anew, so a Gate of one copy no
 * longer finds the port of another copy's AgentKey.
 */
describe('a Gate and an AgentKey from two copies of the package', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await openDb('pglite');
  });
  afterAll(() => db.close());

  it('new Gate(ak) authenticates the other copy’s native keys', async () => {
    const first = await import('../../src/index.js');
    vi.resetModules();
    const second = await import('../../src/index.js');
    expect(second.Gate).not.toBe(first.Gate); // two module instances, as two copies are
    const ak = new first.AgentKey({ pool: db.pool, tableName: db.table });
    await ak.migrate();
    const { key } = await ak.create({ accountId: 'two-copies', scopes: ['chat'] });
    const gate = new second.Gate(ak as never);
    expect(await gate.authenticate(key, { scope: 'chat' })).toMatchObject({
      ok: true,
      principal: { accountId: 'two-copies' },
    });
  });
});
