import { describe, expect, it, vi } from 'vitest';
import { NO_GRANT_AUDIT } from '../../src/store/proxy-no-grant.js';
import { harnessPerFile } from '../support/setup.js';

// A proxied call with no grant was refused without a trace. It is audited now, but an agent
// hammering a tool it holds no grant for must not grow the append-only table without bound: the
// proxy's rate window counts it first, and at most NO_GRANT_AUDIT refusals per window are written.
describe('proxied calls without a grant', () => {
  const f = harnessPerFile({
    harness: { access: { rateLimits: { proxy: { perCredential: { requests: 12, windowSec: 600 } } } } },
  });

  it('are counted in the rate window first, then audited as no_grant, at most NO_GRANT_AUDIT a window', async () => {
    const { id, key } = await f.h.ak.create({ accountId: 'acme' });
    const answers = [];
    for (let n = 0; n < 15; n++)
      answers.push(await f.h.call('GET', `/proxy/github/repos/${n}?q=secret`, key));
    expect(answers.map((r) => `${r.status} ${r.body.error}`)).toEqual([
      ...Array(12).fill('403 no_grant'),
      ...Array(3).fill('429 rate_limited'),
    ]);
    expect(f.upstream.seen).toHaveLength(0);
    const rows = await vi.waitFor(async () => {
      const found = await f.h.access.audit({ agentId: id });
      expect(found).toHaveLength(NO_GRANT_AUDIT.requests);
      return found;
    });
    expect(rows[0]).toMatchObject({
      action: 'proxy.called',
      actor: { kind: 'agent', id: `key:${id}` },
      toolId: 'github',
      target: 'tool:github',
      detail: { method: 'GET', path: '/api/repos/0', status: 403, code: 'no_grant', costCents: 0 },
    });
    // Never the query (it may carry anything).
    expect(JSON.stringify(rows)).not.toContain('q=secret');
  });

  it('an unknown tool is refused unaudited (its id is whatever the agent typed)', async () => {
    const { id, key } = await f.h.ak.create({ accountId: 'acme' });
    const r = await f.h.call('GET', '/proxy/nothing/x', key);
    expect([r.status, r.body.error]).toEqual([404, 'unknown_tool']);
    expect(await f.h.access.audit({ agentId: id })).toEqual([]);
  });
});
