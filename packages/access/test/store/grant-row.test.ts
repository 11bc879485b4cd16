import { describe, expect, it } from 'vitest';
import { ADMIN, harnessPerFile } from '../support/setup.js';

// An expired grant read `none` in GET /tools, as if the agent had never been granted the tool.
describe('GET /tools after a grant expires', () => {
  let clock = 0;
  const f = harnessPerFile({ harness: { access: { now: () => new Date(Date.now() + clock) } } });
  const status = async (key: string) => {
    const r = await f.h.call('GET', '/tools', key);
    const { status: s, expired } = r.body.tools.find((t: { id: string }) => t.id === 'github');
    return expired === undefined ? { status: s } : { status: s, expired };
  };

  it('shows revoked with expired: true, and the agent may ask again', async () => {
    const { key } = await f.h.ak.create({ accountId: 'acme' });
    expect(await status(key)).toEqual({ status: 'none' });
    const asked = await f.h.call('POST', '/tools/github/request', key, { reason: 'triage' });
    expect((await f.h.access.approve(asked.body.request.id, { actor: ADMIN }, { expiresIn: '1m' })).ok).toBe(
      true,
    );
    expect(await status(key)).toEqual({ status: 'granted' });
    clock = 2 * 60_000;
    expect(await status(key)).toEqual({ status: 'revoked', expired: true });
    const proxied = await f.h.call('GET', '/proxy/github/repos/x', key);
    expect([proxied.status, proxied.body.error]).toEqual([403, 'no_grant']);
    const again = await f.h.call('POST', '/tools/github/request', key, { reason: 'again' });
    expect(again.status).toBe(201);
    // Marked expired in the store by the new request: still not `none`, now pending.
    expect(await status(key)).toEqual({ status: 'pending' });
    const revoked = await f.h.ak.create({ accountId: 'acme' });
    const r = await f.h.call('POST', '/tools/github/request', revoked.key, { reason: 'x' });
    expect((await f.h.access.approve(r.body.request.id, { actor: ADMIN })).ok).toBe(true);
    expect((await f.h.access.revokeGrant(r.body.request.id, { actor: ADMIN })).ok).toBe(true);
    expect(await status(revoked.key)).toEqual({ status: 'revoked' });
  });
});
