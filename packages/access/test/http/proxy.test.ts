import { describe, expect, it, vi } from 'vitest';
import { ADMIN, grantedAgent, harnessPerFile } from '../support/setup.js';

// The proxy route around the proxy helper's forward(): the grant decides, the call is charged.
describe('ANY /proxy/:tool/*', () => {
  const f = harnessPerFile({
    upstream: (req, res) => {
      if (!req.url?.includes('/fail')) return false;
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('upstream broke');
      return true;
    },
    tool: { costCents: 2 },
  });
  /** An agent with a 10¢ budget and an approved grant of github (`narrowing` as the approver says). */
  const agent = (narrowing = {}) => grantedAgent(f.h, { budgetCents: 10, narrowing });
  const used = async (id: number) => (await f.h.ak.getKey(id))!.budget;
  it('charges the tool cost when the upstream answers; an upstream 5xx is passed through and not charged', async () => {
    const a = await agent();
    expect((await f.h.call('GET', '/proxy/github/repos/ok', a.key)).status).toBe(200);
    await vi.waitFor(async () => expect(await used(a.id)).toMatchObject({ usedCents: 2, heldCents: 0 }));
    const failed = await f.h.call('GET', '/proxy/github/repos/fail', a.key);
    expect([failed.status, failed.body]).toEqual([500, 'upstream broke']);
    // The hold is released and the audit row written once the answer has streamed to the agent.
    const rows = await vi.waitFor(async () => {
      const found = (await f.h.access.audit({ agentId: a.id })).filter((r) => r.action === 'proxy.called');
      expect(found).toHaveLength(2);
      return found;
    });
    expect(rows.map((r) => [r.detail.status, r.detail.costCents])).toEqual([
      [200, 2],
      [500, 0],
    ]);
    expect(await used(a.id)).toMatchObject({ usedCents: 2, heldCents: 0 });
  });

  it("a grant's budget caps its calls: past it, 429 budget_exceeded and the upstream is not called", async () => {
    const a = await agent({ budgetCents: 4 });
    for (const n of [1, 2]) {
      expect((await f.h.call('GET', `/proxy/github/repos/${n}`, a.key)).status).toBe(200);
      await vi.waitFor(async () =>
        expect(await used(a.id)).toMatchObject({ usedCents: 2 * n, heldCents: 0 }),
      );
    }
    const count = f.upstream.seen.length;
    const third = await f.h.call('GET', '/proxy/github/repos/3', a.key);
    expect([third.status, third.body.error]).toEqual([429, 'budget_exceeded']);
    expect(f.upstream.seen.length).toBe(count);
    expect(await used(a.id)).toMatchObject({ usedCents: 4 });
  });

  it('refuses paths off the grant (traversal, encoded slashes, other prefixes) before anything is charged', async () => {
    const a = await agent();
    const count = f.upstream.seen.length;
    for (const [path, status, code] of [
      ['/proxy/github/repos/..%2f..%2fadmin', 400, 'bad_path'],
      // Read as the upstream would (/admin), then refused by the grant's prefixes.
      ['/proxy/github/repos/%2e%2e/admin', 403, 'path_not_allowed'],
      ['/proxy/github/admin/users', 403, 'path_not_allowed'],
    ] as const) {
      const res = await f.h.call('GET', path, a.key);
      expect([path, res.status, res.body.error]).toEqual([path, status, code]);
    }
    expect(f.upstream.seen.length).toBe(count);
    expect(await used(a.id)).toMatchObject({ usedCents: 0, heldCents: 0 });
  });

  it('the agent never sees the secret; its own Authorization and our x-agentkey- headers never reach the tool', async () => {
    const a = await agent();
    const res = await fetch(`${f.h.origin}/proxy/github/repos/echo`, {
      headers: { authorization: `Bearer ${a.key}`, 'x-agentkey-trace': 'ours', 'x-tool-thing': 'theirs' },
    });
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text + JSON.stringify([...res.headers])).not.toContain(f.secret);
    const seen = f.upstream.seen.at(-1)!;
    expect(seen.headers).toMatchObject({ authorization: `Bearer ${f.secret}`, 'x-tool-thing': 'theirs' });
    expect(seen.headers['x-agentkey-trace']).toBeUndefined();
    expect(JSON.stringify(seen.headers)).not.toContain(a.key);
  });

  it('a permit slip works through the proxy for its action only, and not after fn settles', async () => {
    const a = await agent();
    let slipKey = '';
    await f.h.access.withAgentKey(
      a.caller,
      'github:repos.read',
      { ttl: '10s', budgetCents: 4 },
      async ({ token: key }) => {
        slipKey = key;
        expect((await f.h.call('GET', '/proxy/github/repos/slip', key)).status).toBe(200);
        const post = await f.h.call('POST', '/proxy/github/repos/slip', key, {});
        expect([post.status, post.body.error]).toEqual([405, 'method_not_allowed']);
      },
    );
    // The slip's call drew on the parent's pool.
    await vi.waitFor(async () => expect(await used(a.id)).toMatchObject({ usedCents: 2, heldCents: 0 }));
    const after = await f.h.call('GET', '/proxy/github/repos/slip', slipKey);
    expect(after.status).toBe(401);
    const audit = await vi.waitFor(async () => {
      const found = (await f.h.access.audit({ agentId: a.id })).filter((r) => r.action === 'proxy.called');
      expect(found).toHaveLength(2);
      return found;
    });
    expect(audit.map((r) => r.detail.permit)).toEqual(['github:repos.read', 'github:repos.read']);
  });

  it('a revoked grant stops its permit slips at once', async () => {
    const a = await agent();
    await f.h.access.withAgentKey(a.caller, 'github:repos.read', { ttl: '10s' }, async ({ token: key }) => {
      expect((await f.h.call('GET', '/proxy/github/repos/x', key)).status).toBe(200);
      expect((await f.h.access.revokeGrant(a.grantId, { actor: ADMIN })).ok).toBe(true);
      const refused = await f.h.call('GET', '/proxy/github/repos/x', key);
      expect([refused.status, refused.body.error]).toEqual([403, 'no_grant']);
    });
  });
});
