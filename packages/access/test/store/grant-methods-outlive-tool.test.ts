import { describe, expect, it } from 'vitest';
import { ADMIN, grantedAgent, harnessPerFile } from '../support/setup.js';

// A grant stores the methods it was approved with; the tool's own methods are the ceiling.
describe("a grant's methods after the tool is narrowed", () => {
  const f = harnessPerFile();

  it('a method the tool no longer allows is refused through the proxy, for grants approved before', async () => {
    const a = await grantedAgent(f.h);
    expect((await f.h.call('POST', '/proxy/github/repos/x', a.key, {})).status).toBe(200);
    const narrowed = await f.h.access.defineTool(
      {
        id: 'github',
        name: 'GitHub',
        baseUrl: f.upstream.url,
        methods: ['GET'],
        pathPrefixes: ['/repos/'],
        actions: { 'repos.read': { methods: ['GET'], pathPrefixes: ['/repos/'] } },
      },
      ADMIN,
    );
    expect(narrowed.ok).toBe(true);
    const seen = f.upstream.seen.length;
    const post = await f.h.call('POST', '/proxy/github/repos/x', a.key, {});
    expect([post.status, post.body.error]).toEqual([405, 'method_not_allowed']);
    expect(f.upstream.seen.length).toBe(seen);
    expect((await f.h.call('GET', '/proxy/github/repos/x', a.key)).status).toBe(200);
  });
});
