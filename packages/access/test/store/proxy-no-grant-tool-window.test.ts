import { describe, expect, it } from 'vitest';
import { grantedAgent, harnessPerFile } from '../support/setup.js';

// A tool's proxy window is every granted caller's together. Calls refused no_grant must not count
// in it: an agent holding no grant (zero access, any authenticated caller) would use it up and
// lock every granted agent out of the tool.
describe('no_grant proxy refusals and the tool window', () => {
  const f = harnessPerFile({
    harness: { access: { rateLimits: { proxy: { perTool: { requests: 3, windowSec: 600 } } } } },
  });

  it('an agent without a grant cannot spend the tool window of those who hold one', async () => {
    const stranger = await f.h.ak.create({ accountId: 'acme' });
    for (let n = 0; n < 6; n++) {
      const r = await f.h.call('GET', `/proxy/github/repos/${n}`, stranger.key);
      expect([r.status, r.body.error]).toEqual([403, 'no_grant']);
    }
    const a = await grantedAgent(f.h);
    const r = await f.h.call('GET', '/proxy/github/repos/x', a.key);
    expect([r.status, r.body.error]).toEqual([200, undefined]);
    // The window still bounds the granted callers: three in all.
    for (const n of [1, 2])
      expect((await f.h.call('GET', `/proxy/github/repos/${n}`, a.key)).status).toBe(200);
    expect((await f.h.call('GET', '/proxy/github/repos/4', a.key)).status).toBe(429);
  });
});
