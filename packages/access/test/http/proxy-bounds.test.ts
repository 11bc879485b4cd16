import type { Caller } from '@agentkey/access';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  ADMIN,
  addTool,
  type Harness,
  startHarness,
  startUpstream,
  type Upstream,
} from '../support/setup.js';

// The proxy's bounds as the access routes apply them: a hanging upstream and a huge body are
// answered, bounded, and never charged.
describe('proxy bounds through the access routes', () => {
  let h: Harness;
  let upstream: Upstream;

  beforeAll(async () => {
    h = await startHarness({ proxyLimits: { timeoutMs: 300, maxRequestBytes: 1024 } });
    // /hang never answers: the proxy must give up on its own.
    upstream = await startUpstream((req) => req.url?.includes('/hang') === true);
    await addTool(h.access, upstream, 'github', { costCents: 3 });
  });
  afterAll(async () => {
    await h?.close();
    await upstream?.close();
  });

  async function agent() {
    const made = await h.ak.create({ accountId: 'acme', budgetCents: 10 });
    const caller: Caller = {
      kind: 'key',
      id: made.id,
      subject: null,
      accountId: 'acme',
      scopes: null,
      expiresAt: null,
    };
    const asked = await h.access.request(caller, 'github', { reason: 'bounds' });
    if (!asked.ok || !(await h.access.approve(asked.request.id, { actor: ADMIN })).ok)
      throw new Error('setup');
    return made;
  }

  it('an upstream that hangs is a 504 upstream_timeout, released, not charged', async () => {
    const a = await agent();
    const res = await h.call('GET', '/proxy/github/repos/hang', a.key);
    expect([res.status, res.body.error]).toEqual([504, 'upstream_timeout']);
    await vi.waitFor(async () =>
      expect((await h.ak.getKey(a.id))!.budget).toMatchObject({ usedCents: 0, heldCents: 0 }),
    );
  });

  it('a body over maxRequestBytes is a 413, refused before the upstream and not charged', async () => {
    const a = await agent();
    const count = upstream.seen.length;
    const res = await h.call('POST', '/proxy/github/repos/big', a.key, 'x'.repeat(4096));
    expect([res.status, res.body.error]).toEqual([413, 'body_too_large']);
    expect(upstream.seen.length).toBe(count);
    await vi.waitFor(async () =>
      expect((await h.ak.getKey(a.id))!.budget).toMatchObject({ usedCents: 0, heldCents: 0 }),
    );
  });
});
