import { describe, expect, it } from 'vitest';
import { closedAfterEach, gateway, route, upstream } from './servers.js';

const keep = closedAfterEach();

/** An upstream that redirects every call to `location(toolUrl)`, and a second host that must stay untouched. */
async function redirecting(location: (toolUrl: string, otherUrl: string) => string, status = 302) {
  const other = keep(await upstream((_req, res) => res.end('other host')));
  const tool = keep(
    await upstream((_req, res) =>
      res.writeHead(status, { location: location(tool.url, other.url) }).end('moved'),
    ),
  );
  const proxy = keep(await gateway(route(`${tool.url}/api/`)));
  const agentUrl = `${proxy.url}/proxy/tool/repos/a/b`;
  const answer = await fetch(agentUrl, { redirect: 'manual' });
  return { other, tool, proxy, answer, agentUrl, body: await answer.text() };
}

describe('redirects', () => {
  it.each([
    ['another host', (_t: string, other: string) => `${other}/api/repos/x`],
    [
      'another host, protocol-relative',
      (_t: string, other: string) => `//${other.slice('http://'.length)}/x`,
    ],
    ['another port of the same host', (t: string) => t.replace(/:(\d+)$/, (_m, p) => `:${Number(p) + 1}`)],
    ['another scheme', (t: string) => `${t.replace('http:', 'https:')}/api/repos/x`],
    ['userinfo on the tool host', (t: string) => t.replace('http://', 'http://user:pw@') + '/api/repos/x'],
    ['outside the base path', () => '/admin'],
    ['out of the base path by dot segments', () => '/api/../admin'],
    ['out of the base path by encoded dots', () => '/api/%2e%2e/admin'],
    ['an unparsable Location', () => 'http://[::1'],
  ])('refuses a redirect to %s: 502 redirect_off_origin, never followed', async (_name, location) => {
    const { other, proxy, answer, body } = await redirecting(location);
    expect(answer.status).toBe(502);
    expect(answer.headers.get('location')).toBe(null);
    expect(JSON.parse(body)).toMatchObject({ error: 'redirect_off_origin' });
    expect(other.seen).toEqual([]);
    expect(proxy.outcomes[0]).toMatchObject({ ok: false, code: 'redirect_off_origin', answered: false });
  });

  it.each([301, 303, 307, 308])(
    'passes a %i inside the tool on, rewritten to come back through the proxy',
    async (status) => {
      const { tool, answer, agentUrl, body } = await redirecting((t) => `${t}/api/repos/c?page=2`, status);
      expect(answer.status).toBe(status);
      expect(body).toBe('moved');
      const location = answer.headers.get('location')!;
      expect(location).not.toContain(String(tool.port));
      expect(new URL(location, agentUrl).href).toBe(agentUrl.replace('/repos/a/b', '/repos/c?page=2'));
      expect(tool.seen).toHaveLength(1); // not followed
    },
  );

  it("rewrites a 201's Location inside the tool, and drops (not refuses) one elsewhere", async () => {
    const inside = await redirecting((t) => `${t}/api/repos/new`, 201);
    expect(inside.answer.status).toBe(201);
    expect(new URL(inside.answer.headers.get('location')!, inside.agentUrl).pathname).toBe(
      '/proxy/tool/repos/new',
    );
    const outside = await redirecting((_t, other) => `${other}/x`, 201);
    expect([outside.answer.status, outside.answer.headers.get('location'), outside.body]).toEqual([
      201,
      null,
      'moved',
    ]);
  });

  it('rewrites a relative Location the same way', async () => {
    const { answer, agentUrl } = await redirecting(() => '../x/y');
    expect(new URL(answer.headers.get('location')!, agentUrl).pathname).toBe('/proxy/tool/repos/x/y');
  });
});
