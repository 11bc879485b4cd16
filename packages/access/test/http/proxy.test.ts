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

// The proxy route around the proxy helper's forward(): the grant decides, the call is charged.
describe('ANY /proxy/:tool/*', () => {
  let h: Harness;
  let upstream: Upstream;
  let secret: string;

  beforeAll(async () => {
    h = await startHarness();
    upstream = await startUpstream((req, res) => {
      if (!req.url?.includes('/fail')) return false;
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('upstream broke');
      return true;
    });
    secret = await addTool(h.access, upstream, 'github', { costCents: 2 });
  });
  afterAll(async () => {
    await h?.close();
    await upstream?.close();
  });

  /** An agent with a 10¢ budget and an approved grant of github (`narrowing` as the approver says). */
  async function agent(narrowing = {}) {
    const made = await h.ak.create({ accountId: 'acme', budgetCents: 10 });
    const caller: Caller = {
      kind: 'key',
      id: made.id,
      subject: null,
      accountId: 'acme',
      scopes: null,
      expiresAt: null,
    };
    const asked = await h.access.request(caller, 'github', { reason: 'proxy' });
    if (!asked.ok) throw new Error(asked.message);
    const approved = await h.access.approve(asked.request.id, { actor: ADMIN }, narrowing);
    if (!approved.ok) throw new Error(approved.message);
    return { ...made, caller, grantId: approved.grant.id };
  }
  const used = async (id: number) => (await h.ak.getKey(id))!.budget;

  it('charges the tool cost when the upstream answers; an upstream 5xx is passed through and not charged', async () => {
    const a = await agent();
    expect((await h.call('GET', '/proxy/github/repos/ok', a.key)).status).toBe(200);
    await vi.waitFor(async () => expect(await used(a.id)).toMatchObject({ usedCents: 2, heldCents: 0 }));
    const failed = await h.call('GET', '/proxy/github/repos/fail', a.key);
    expect([failed.status, failed.body]).toEqual([500, 'upstream broke']);
    // The hold is released and the audit row written once the answer has streamed to the agent.
    const rows = await vi.waitFor(async () => {
      const found = (await h.access.audit({ agentId: a.id })).filter((r) => r.action === 'proxy.called');
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
      expect((await h.call('GET', `/proxy/github/repos/${n}`, a.key)).status).toBe(200);
      await vi.waitFor(async () =>
        expect(await used(a.id)).toMatchObject({ usedCents: 2 * n, heldCents: 0 }),
      );
    }
    const count = upstream.seen.length;
    const third = await h.call('GET', '/proxy/github/repos/3', a.key);
    expect([third.status, third.body.error]).toEqual([429, 'budget_exceeded']);
    expect(upstream.seen.length).toBe(count);
    expect(await used(a.id)).toMatchObject({ usedCents: 4 });
  });

  it('refuses paths off the grant (traversal, encoded slashes, other prefixes) before anything is charged', async () => {
    const a = await agent();
    const count = upstream.seen.length;
    for (const [path, status, code] of [
      ['/proxy/github/repos/..%2f..%2fadmin', 400, 'bad_path'],
      // Read as the upstream would (/admin), then refused by the grant's prefixes.
      ['/proxy/github/repos/%2e%2e/admin', 403, 'path_not_allowed'],
      ['/proxy/github/admin/users', 403, 'path_not_allowed'],
    ] as const) {
      const res = await h.call('GET', path, a.key);
      expect([path, res.status, res.body.error]).toEqual([path, status, code]);
    }
    expect(upstream.seen.length).toBe(count);
    expect(await used(a.id)).toMatchObject({ usedCents: 0, heldCents: 0 });
  });

  it('the agent never sees the secret; its own Authorization and our x-agentkey- headers never reach the tool', async () => {
    const a = await agent();
    const res = await fetch(`${h.origin}/proxy/github/repos/echo`, {
      headers: { authorization: `Bearer ${a.key}`, 'x-agentkey-trace': 'ours', 'x-tool-thing': 'theirs' },
    });
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text + JSON.stringify([...res.headers])).not.toContain(secret);
    const seen = upstream.seen.at(-1)!;
    expect(seen.headers).toMatchObject({ authorization: `Bearer ${secret}`, 'x-tool-thing': 'theirs' });
    expect(seen.headers['x-agentkey-trace']).toBeUndefined();
    expect(JSON.stringify(seen.headers)).not.toContain(a.key);
  });

  it('a permit slip works through the proxy for its action only, and not after fn settles', async () => {
    const a = await agent();
    let slipKey = '';
    await h.access.withAgentKey(
      a.caller,
      'github:repos.read',
      { ttl: '10s', budgetCents: 4 },
      async ({ key }) => {
        slipKey = key;
        expect((await h.call('GET', '/proxy/github/repos/slip', key)).status).toBe(200);
        const post = await h.call('POST', '/proxy/github/repos/slip', key, {});
        expect([post.status, post.body.error]).toEqual([405, 'method_not_allowed']);
      },
    );
    // The slip's call drew on the parent's pool.
    await vi.waitFor(async () => expect(await used(a.id)).toMatchObject({ usedCents: 2, heldCents: 0 }));
    const after = await h.call('GET', '/proxy/github/repos/slip', slipKey);
    expect(after.status).toBe(401);
    const audit = await vi.waitFor(async () => {
      const found = (await h.access.audit({ agentId: a.id })).filter((r) => r.action === 'proxy.called');
      expect(found).toHaveLength(2);
      return found;
    });
    expect(audit.map((r) => r.detail.permit)).toEqual(['github:repos.read', 'github:repos.read']);
  });

  it('a revoked grant stops its permit slips at once', async () => {
    const a = await agent();
    await h.access.withAgentKey(a.caller, 'github:repos.read', { ttl: '10s' }, async ({ key }) => {
      expect((await h.call('GET', '/proxy/github/repos/x', key)).status).toBe(200);
      expect((await h.access.revokeGrant(a.grantId, { actor: ADMIN })).ok).toBe(true);
      const refused = await h.call('GET', '/proxy/github/repos/x', key);
      expect([refused.status, refused.body.error]).toEqual([403, 'no_grant']);
    });
  });
});
