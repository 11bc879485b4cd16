import { describe, expect, it } from 'vitest';
import { grantedAgent, harnessPerFile } from '../support/setup.js';

// Pools never nest: a slip minted by a pooled key lands on that key's pool root, where the key's
// own cap does not reach. A pooled key with a cap of its own must not mint one (as POST /sdk-keys
// refuses such a key a child), or its slips spend past its cap.
describe('permit slips of a pooled key', () => {
  const f = harnessPerFile({ tool: { costCents: 4 } });

  const pooledAgent = async (budgetCents?: number) => {
    const root = await f.h.ak.create({ accountId: 'acme', budgetCents: 1000 });
    return grantedAgent(f.h, {
      poolParentId: root.id,
      ...(budgetCents === undefined ? {} : { budgetCents }),
    });
  };

  it('with a cap of its own: refused, so its slips cannot spend past that cap', async () => {
    const a = await pooledAgent(10);
    const minted = await f.h.access.mintPermit(a.caller, 'github:repos.read', { ttl: '60s' });
    if (minted.ok) {
      // What the slip could do: spend the root's pool, not the key's 10 cents.
      for (let n = 0; n < 5; n++) await f.h.call('GET', `/proxy/github/repos/${n}`, minted.permit.token);
      const spent = (await f.h.ak.getKey(minted.permit.id))?.budget.usedCents;
      expect.fail(`a pooled key with a 10-cent cap minted a slip that spent ${spent} cents`);
    }
    expect(minted).toMatchObject({ ok: false, code: 'not_permitted' });
    expect(minted.ok || minted.message).toMatch(/cap of its own/);
    // Its own calls are still bounded by its cap as before.
    for (const n of [1, 2])
      expect((await f.h.call('GET', `/proxy/github/repos/${n}`, a.key)).status).toBe(200);
    expect((await f.h.call('GET', '/proxy/github/repos/3', a.key)).status).toBe(429);
  });

  it('without a cap of its own: minted on the pool root, which bounds it', async () => {
    const a = await pooledAgent();
    const minted = await f.h.access.mintPermit(a.caller, 'github:repos.read', { ttl: '60s' });
    expect(minted.ok).toBe(true);
    if (!minted.ok) return;
    expect((await f.h.call('GET', '/proxy/github/repos/x', minted.permit.token)).status).toBe(200);
  });
});
