import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addTool, type Harness, startHarness, startUpstream, type Upstream } from '../support/setup.js';

describe('refusals over HTTP', () => {
  let h: Harness;
  let upstream: Upstream;
  let agent: string;
  let admin: string;

  beforeAll(async () => {
    h = await startHarness();
    upstream = await startUpstream();
    await addTool(h.access, upstream);
    ({ key: agent } = await h.ak.create({ accountId: 'acme' }));
    ({ key: admin } = await h.ak.create({ accountId: 'ops', scopes: ['access:admin'] }));
  });
  afterAll(async () => {
    await h?.close();
    await upstream?.close();
  });

  it.each([
    ['unknown tool', 'POST', '/tools/linear/request', { reason: 'x' }, 404, 'unknown_tool', /no tool linear/],
    ['bad tool id', 'POST', '/tools/Bad!Id/request', { reason: 'x' }, 400, 'bad_request', /tool id must be/],
    [
      'bad ttl',
      'POST',
      '/tools/github/request',
      { reason: 'x', ttl: '10 years' },
      400,
      'bad_request',
      /ttl must be a duration/,
    ],
    [
      'zero ttl',
      'POST',
      '/tools/github/request',
      { reason: 'x', ttl: '0s' },
      400,
      'bad_request',
      /ttl must be a duration/,
    ],
    [
      'negative budget',
      'POST',
      '/tools/github/request',
      { reason: 'x', budgetCents: -1 },
      400,
      'bad_request',
      /budgetCents must be a number of cents/,
    ],
    ['missing reason', 'POST', '/tools/github/request', {}, 400, 'bad_request', /reason is required/],
    [
      'blank reason',
      'POST',
      '/tools/github/request',
      { reason: '   ' },
      400,
      'bad_request',
      /reason is required/,
    ],
    [
      'body not an object',
      'POST',
      '/tools/github/request',
      '[1]',
      400,
      'bad_request',
      /JSON object|reason is required/,
    ],
    [
      'vend of an unknown tool',
      'GET',
      '/tools/linear/credentials',
      undefined,
      404,
      'unknown_tool',
      /no tool linear/,
    ],
    ['vend of a bad id', 'GET', '/tools/..%2f/credentials', undefined, 400, 'bad_request', /tool id must be/],
    [
      'suggestion without url',
      'POST',
      '/tools/suggest',
      { name: 'Linear', reason: 'x' },
      400,
      'bad_request',
      /url must be an http/,
    ],
    [
      'permit for a bad action',
      'POST',
      '/permits',
      { action: 'github' },
      400,
      'bad_request',
      /action must be tool:action/,
    ],
    [
      'permit with a long ttl',
      'POST',
      '/permits',
      { action: 'github:repos.read', ttl: '2h' },
      400,
      'bad_request',
      /ttl must be a duration from 1s to 15m/,
    ],
  ] as const)('%s → %s %s', async (_, method, path, body, status, code, message) => {
    const res = await h.call(method, path, agent, body);
    expect([res.status, res.body.error]).toEqual([status, code]);
    expect(res.body.error_description).toMatch(message);
  });

  it('a second request while one is pending is a 409', async () => {
    const { key } = await h.ak.create({ accountId: 'acme' });
    expect((await h.call('POST', '/tools/github/request', key, { reason: 'a' })).status).toBe(201);
    const again = await h.call('POST', '/tools/github/request', key, { reason: 'b' });
    expect([again.status, again.body.error]).toEqual([409, 'already_pending']);
  });

  it('an agent can never approve its own request, even holding access:admin, nor through a pooled child', async () => {
    const self = await h.ak.create({ accountId: 'acme', scopes: ['access:admin'] });
    const asked = await h.call('POST', '/tools/github/request', self.key, { reason: 'mine' });
    const id = asked.body.request.id;
    const own = await h.call('POST', `/admin/requests/${id}/approve`, self.key, {});
    expect([own.status, own.body.error]).toEqual([403, 'self_approval']);
    const child = await h.ak.create({ accountId: 'acme', scopes: ['access:admin'], poolParentId: self.id });
    const viaChild = await h.call('POST', `/admin/requests/${id}/approve`, child.key, {});
    expect([viaChild.status, viaChild.body.error]).toEqual([403, 'self_approval']);
    expect((await h.call('POST', `/admin/requests/${id}/deny`, self.key, {})).body.error).toBe(
      'self_approval',
    );
    // The store call refuses the same way (the console and the CLI use it).
    const caller = {
      kind: 'key' as const,
      id: self.id,
      subject: null,
      accountId: 'acme',
      scopes: ['access:admin'],
      expiresAt: null,
    };
    const direct = await h.access.approve(id, { actor: { kind: 'human', id: 'x' }, caller });
    expect(direct).toMatchObject({ ok: false, code: 'self_approval' });
    // Still pending: another admin can decide it.
    const other = await h.call('POST', `/admin/requests/${id}/approve`, admin, {});
    expect(other.body.grant.status).toBe('granted');
  });

  it('approving needs access:admin explicitly: an unrestricted key is refused', async () => {
    const { key: unrestricted } = await h.ak.create({ accountId: 'ops' });
    const { key: requester } = await h.ak.create({ accountId: 'acme' });
    const id = (await h.call('POST', '/tools/github/request', requester, { reason: 'r' })).body.request.id;
    for (const path of [`/admin/requests/${id}/approve`, '/admin/audit', '/admin/requests']) {
      const post = path.endsWith('approve');
      const res = await h.call(post ? 'POST' : 'GET', path, unrestricted, post ? {} : undefined);
      expect([res.status, res.body.error]).toEqual([403, 'not_admin']);
    }
    expect(
      (await h.call('GET', '/admin/requests?status=pending', admin)).body.requests.map(
        (r: { id: number }) => r.id,
      ),
    ).toContain(id);
  });

  it('approval narrows: methods outside the tool are a 400, a decided request a 409', async () => {
    const { key } = await h.ak.create({ accountId: 'acme' });
    const id = (await h.call('POST', '/tools/github/request', key, { reason: 'r' })).body.request.id;
    const wide = await h.call('POST', `/admin/requests/${id}/approve`, admin, { methods: ['DELETE'] });
    expect([wide.status, wide.body.error]).toEqual([400, 'bad_request']);
    expect(wide.body.error_description).toMatch(/allows only GET, POST/);
    expect((await h.call('POST', `/admin/requests/${id}/deny`, admin, { note: 'no' })).status).toBe(200);
    const again = await h.call('POST', `/admin/requests/${id}/approve`, admin, {});
    expect([again.status, again.body.error]).toEqual([409, 'not_pending']);
    const tools = (await h.call('GET', '/tools', key)).body.tools;
    expect(tools[0].status).toBe('denied');
  });

  it('suggestions aggregate across agents: "3 agents want Linear"', async () => {
    let last: { body: { summary: string; suggestion: { agents: number } } } | undefined;
    for (let i = 0; i < 3; i++) {
      const { key } = await h.ak.create({ accountId: 'acme' });
      last = await h.call('POST', '/tools/suggest', key, {
        name: i === 1 ? 'linear' : 'Linear',
        url: 'https://linear.app',
        reason: `issue ${i}`,
      });
    }
    // The same agent twice still counts once.
    expect(last!.body.summary).toBe('3 agents want Linear');
    const listed = (await h.call('GET', '/admin/suggestions', admin)).body.suggestions;
    expect(listed[0]).toMatchObject({ agents: 3, urls: ['https://linear.app/'] });
  });
});
