import { describe, expect, it, vi } from 'vitest';
import { grantedAgent, harnessPerFile } from '../support/setup.js';

// The proxy's bounds as the access routes apply them: a hanging upstream and a huge body are
// answered, bounded, and never charged.
describe('proxy bounds through the access routes', () => {
  const f = harnessPerFile({
    harness: { proxyLimits: { timeoutMs: 300, maxRequestBytes: 1024 } },
    // /hang never answers: the proxy must give up on its own.
    upstream: (req) => req.url?.includes('/hang') === true,
    tool: { costCents: 3 },
  });
  const agent = () => grantedAgent(f.h, { budgetCents: 10 });
  it('an upstream that hangs is a 504 upstream_timeout, released, not charged', async () => {
    const a = await agent();
    const res = await f.h.call('GET', '/proxy/github/repos/hang', a.key);
    expect([res.status, res.body.error]).toEqual([504, 'upstream_timeout']);
    await vi.waitFor(async () =>
      expect((await f.h.ak.getKey(a.id))!.budget).toMatchObject({ usedCents: 0, heldCents: 0 }),
    );
  });

  it('a body over maxRequestBytes is a 413, refused before the upstream and not charged', async () => {
    const a = await agent();
    const count = f.upstream.seen.length;
    const res = await f.h.call('POST', '/proxy/github/repos/big', a.key, 'x'.repeat(4096));
    expect([res.status, res.body.error]).toEqual([413, 'body_too_large']);
    expect(f.upstream.seen.length).toBe(count);
    await vi.waitFor(async () =>
      expect((await f.h.ak.getKey(a.id))!.budget).toMatchObject({ usedCents: 0, heldCents: 0 }),
    );
  });
});
