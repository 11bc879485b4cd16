import { describe, expect, it, vi } from 'vitest';
import { grantedAgent, harnessPerFile } from '../support/setup.js';

// The audit log promises every proxied call with its status and cost; the calls refused after the
// grant was found (its rate window, its budget) left no row, so an agent hammering a tool is invisible.
describe('proxied calls refused by a rate window or a budget', () => {
  const f = harnessPerFile({ tool: { costCents: 2 } });
  const proxied = async (agentId: number) =>
    (await f.h.access.audit({ agentId })).filter((r) => r.action === 'proxy.called');

  it('are audited with their status, code and no cost', async () => {
    const a = await grantedAgent(f.h, { narrowing: { rateLimit: { requests: 1, windowSec: 600 } } });
    expect((await f.h.call('GET', '/proxy/github/repos/1', a.key)).status).toBe(200);
    await vi.waitFor(async () => expect(await proxied(a.id)).toHaveLength(1));
    expect((await f.h.call('GET', '/proxy/github/repos/2', a.key)).status).toBe(429);
    const b = await grantedAgent(f.h, { narrowing: { budgetCents: 1 } });
    const over = await f.h.call('GET', '/proxy/github/repos/3', b.key);
    expect([over.status, over.body.error]).toEqual([429, 'budget_exceeded']);
    const rows = [...(await proxied(a.id)), ...(await proxied(b.id))];
    expect(rows.map((r) => [r.detail.status, r.detail.code ?? null, r.detail.costCents])).toEqual([
      [200, null, 2],
      [429, 'rate_limited', 0],
      [429, 'budget_exceeded', 0],
    ]);
  });
});
