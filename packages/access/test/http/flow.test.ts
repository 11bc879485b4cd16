import { oidcVerifier } from '@agentkey/oidc';
import { type OidcProviderStandIn, startOidcProvider } from '@agentkey/test-support/oidc-provider.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { addTool, type Harness, startHarness, startUpstream, type Upstream } from '../support/setup.js';

const API = 'https://api.example.test';

// The whole flow over HTTP, for a native key and for an OIDC token from a real authorization
// server: zero access, request, approval, vend, revocation, refusal after it, and the audit rows.
describe('agents and upstream tools, end to end', () => {
  let h: Harness;
  let upstream: Upstream;
  let provider: OidcProviderStandIn;
  let secret: string;
  let admin: string;

  beforeAll(async () => {
    provider = await startOidcProvider({
      clients: { 'agent-oidc': 'pw-1' },
      audience: API,
      scope: 'tools',
      ttlSec: 600,
    });
    const verifiers = [
      oidcVerifier({
        issuer: provider.issuer,
        audience: API,
        allowInsecureIssuer: true,
        firstSeen: { scopes: ['tools'], budgetCents: 100 },
      }),
    ];
    h = await startHarness({ verifiers });
    upstream = await startUpstream();
    secret = await addTool(h.access, upstream, 'github', { costCents: 1 });
    ({ key: admin } = await h.ak.create({ accountId: 'ops', scopes: ['access:admin'], name: 'alice' }));
  });
  afterAll(async () => {
    await h?.close();
    await upstream?.close();
    await provider?.close();
  });

  const agents = [
    ['a native ak_ key', async () => (await h.ak.create({ accountId: 'acme', budgetCents: 50 })).key],
    ['an OIDC access token', () => provider.token('agent-oidc', 'tools')],
  ] as const;

  it.each(agents)(
    '%s: list, request, approve, vend, proxy, revoke, refused after, all audited in order',
    async (_, mint) => {
      const token = await mint();
      const list = async () =>
        (await h.call('GET', '/tools', token)).body.tools as Array<{ id: string; status: string }>;

      expect((await list()).map((t) => [t.id, t.status])).toEqual([['github', 'none']]);
      const before = await h.call('GET', '/tools/github/credentials', token);
      expect(before.status).toBe(403);
      expect(before.body.error).toBe('no_grant');

      const asked = await h.call('POST', '/tools/github/request', token, {
        reason: 'read issues',
        ttl: '2h',
        budgetCents: 10,
      });
      expect(asked.status).toBe(201);
      expect(asked.body.request).toMatchObject({
        toolId: 'github',
        status: 'pending',
        reason: 'read issues',
      });
      const requestId = asked.body.request.id as number;
      const agentId = asked.body.request.agentId as number;
      expect((await list())[0]!.status).toBe('pending');
      expect((await h.call('GET', '/tools/github/credentials', token)).body.error).toBe('no_grant');

      const approved = await h.call('POST', `/admin/requests/${requestId}/approve`, admin, {
        expiresIn: '1h',
        budgetCents: 5,
        methods: ['GET'],
      });
      expect(approved.status).toBe(200);
      expect(Object.keys(approved.body)).toEqual(['grant']);
      expect(approved.body.grant).toMatchObject({
        status: 'granted',
        methods: ['GET'],
        budgetCents: 5,
        decidedBy: expect.stringMatching(/^key:\d+$/),
      });
      expect((await list())[0]!.status).toBe('granted');

      const vended = await h.call('GET', '/tools/github/credentials', token);
      expect(vended.status).toBe(200);
      expect(vended.body).toMatchObject({
        tool: 'github',
        secret,
        header: 'authorization',
        value: `Bearer ${secret}`,
        chargedCents: 1,
      });
      expect(vended.headers.get('cache-control')).toBe('no-store');
      expect(vended.headers.get('pragma')).toBe('no-cache');
      // The secret is in the vend answer only: never in a list.
      expect(JSON.stringify(await list())).not.toContain(secret);

      // The proxy: the upstream gets the tool's secret, never the agent's token; the agent never sees it.
      const proxied = await h.call('GET', '/proxy/github/repos/acme/widgets?page=2', token);
      expect(proxied.status).toBe(200);
      expect(proxied.body).toMatchObject({ path: '/api/repos/acme/widgets?page=2', method: 'GET' });
      const seen = upstream.seen.at(-1)!;
      expect(seen.headers.authorization).toBe(`Bearer ${secret}`);
      expect(JSON.stringify(seen.headers)).not.toContain(token);
      expect(JSON.stringify([proxied.body, [...proxied.headers]])).not.toContain(secret);
      // Its audit row is written once the answer has streamed back.
      await vi.waitFor(async () =>
        expect((await h.access.audit({ agentId })).map((r) => r.action)).toContain('proxy.called'),
      );
      // Narrowed to GET at approval: a POST is refused before the upstream sees it.
      const count = upstream.seen.length;
      const post = await h.call('POST', '/proxy/github/repos/acme/widgets', token, { x: 1 });
      expect([post.status, post.body.error]).toEqual([405, 'method_not_allowed']);
      expect(upstream.seen.length).toBe(count);

      const revoked = await h.call('POST', `/admin/grants/${requestId}/revoke`, admin);
      expect(revoked.status).toBe(200);
      const after = await h.call('GET', '/tools/github/credentials', token);
      expect([after.status, after.body.error]).toEqual([403, 'no_grant']);
      const proxiedAfter = await h.call('GET', '/proxy/github/repos/acme/widgets', token);
      expect([proxiedAfter.status, proxiedAfter.body.error]).toEqual([403, 'no_grant']);
      expect(JSON.stringify(after.body)).not.toContain(secret);
      expect((await list())[0]!.status).toBe('revoked');

      const audit = await h.access.audit({ agentId });
      expect(audit.map((r) => [r.action, r.actor.kind, r.toolId])).toEqual([
        ['request.created', 'agent', 'github'],
        ['request.approved', 'human', 'github'],
        ['credential.vended', 'agent', 'github'],
        ['proxy.called', 'agent', 'github'],
        ['proxy.called', 'agent', 'github'],
        ['grant.revoked', 'human', 'github'],
        ['proxy.called', 'agent', 'github'],
      ]);
      expect(audit[3]!.detail).toMatchObject({
        method: 'GET',
        path: '/api/repos/acme/widgets',
        status: 200,
        costCents: 1,
      });
      expect(audit[4]!.detail).toMatchObject({
        method: 'POST',
        status: 405,
        code: 'method_not_allowed',
        costCents: 0,
      });
      // Refused after the revocation: audited too, as no_grant.
      expect(audit[6]!.detail).toMatchObject({
        method: 'GET',
        path: '/api/repos/acme/widgets',
        status: 403,
        code: 'no_grant',
        costCents: 0,
      });
      expect(JSON.stringify(audit)).not.toContain(secret);
      const overHttp = await h.call('GET', `/admin/audit?agentId=${agentId}&toolId=github`, admin);
      expect(overHttp.body.audit.map((r: { action: string }) => r.action)).toEqual(
        audit.map((r) => r.action),
      );
    },
  );
});
