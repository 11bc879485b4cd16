import { describe, expect, it } from 'vitest';
import { grantedAgent, harnessPerFile } from '../support/setup.js';

// Each permit slip is a new row of the keys table: counted by its own id, every slip would open a
// fresh per-credential window for the agent that minted it.
describe('per-credential proxy windows and permit slips', () => {
  const f = harnessPerFile({
    harness: { access: { rateLimits: { proxy: { perCredential: { requests: 2, windowSec: 600 } } } } },
  });

  it("a slip's proxied calls count in its parent's window: minting slips does not reset it", async () => {
    const a = await grantedAgent(f.h);
    for (const n of [1, 2])
      expect((await f.h.call('GET', `/proxy/github/repos/${n}`, a.key)).status).toBe(200);
    const third = await f.h.call('GET', '/proxy/github/repos/3', a.key);
    expect([third.status, third.body.error]).toEqual([429, 'rate_limited']);
    const seen = f.upstream.seen.length;
    const minted = await f.h.access.mintPermit(a.caller, 'github:repos.read', { ttl: '60s' });
    if (!minted.ok) throw new Error(minted.message);
    const viaSlip = await f.h.call('GET', '/proxy/github/repos/4', minted.permit.token);
    expect([viaSlip.status, viaSlip.body.error]).toEqual([429, 'rate_limited']);
    expect(f.upstream.seen.length).toBe(seen);
  });
});
