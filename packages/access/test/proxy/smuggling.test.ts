import { describe, expect, it } from 'vitest';
import { closedAfterEach, gateway, LIMITS, raw, route, upstream } from './servers.js';

const keep = closedAfterEach();
const head = (lines: string) =>
  `POST /proxy/tool/repos/x HTTP/1.1\r\nHost: gw\r\n${lines}Connection: close\r\n\r\n`;

async function setup(insecureHTTPParser: boolean) {
  const tool = keep(await upstream((req, res) => req.on('end', () => res.end('ok')).resume()));
  const proxy = keep(await gateway(route(`${tool.url}/api/`), LIMITS, { insecureHTTPParser }));
  return { tool, proxy };
}

describe('header smuggling', () => {
  it.each([
    [
      'Content-Length with Transfer-Encoding',
      head('Content-Length: 5\r\nTransfer-Encoding: chunked\r\n') + '0\r\n\r\n',
    ],
    ['two different Content-Lengths', head('Content-Length: 5\r\nContent-Length: 6\r\n') + 'hello!'],
    ['a CR inside a value', head('X-A: a\rb\r\n')],
    ['a bare LF ending a header', head('X-A: a\nX-Injected: b\r\n')],
    ['an unknown Transfer-Encoding', head('Transfer-Encoding: identity\r\n')],
  ])('refuses %s with 400, and the upstream sees nothing', async (_name, bytes) => {
    const { tool, proxy } = await setup(false);
    expect(await raw(proxy.port, bytes)).toMatch(/^HTTP\/1\.1 400 /);
    expect(tool.seen).toEqual([]);
  });

  // With node's lenient parser these reach our code: the forwarder refuses them itself.
  it.each([
    [
      'Content-Length with Transfer-Encoding',
      head('Content-Length: 5\r\nTransfer-Encoding: chunked\r\n') + '0\r\n\r\n',
    ],
    ['a NUL inside a value', head('X-A: a\u0000b\r\n')],
    ['a Transfer-Encoding list', head('Transfer-Encoding: chunked, identity\r\n') + '0\r\n\r\n'],
  ])('refuses %s itself (bad_header) behind a lenient parser', async (_name, bytes) => {
    const { tool, proxy } = await setup(true);
    const answer = await raw(proxy.port, bytes);
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toContain('"error":"bad_header"');
    expect(tool.seen).toEqual([]);
  });

  it('keeps a request smuggled inside a body a body: the upstream sees one request', async () => {
    const { tool, proxy } = await setup(false);
    const inner = 'GET /api/admin HTTP/1.1\r\nHost: tool\r\n\r\n';
    const answer = await raw(proxy.port, head(`Content-Length: ${inner.length}\r\n`) + inner);
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(tool.seen.map((s) => [s.method, s.url, s.bytes])).toEqual([
      ['POST', '/api/repos/x', inner.length],
    ]);
  });

  it('never forwards hop-by-hop headers or those Connection names, either way', async () => {
    const tool = keep(
      await upstream((_req, res) =>
        res
          .writeHead(200, {
            connection: 'X-Upstream-Hop',
            'x-upstream-hop': 'no',
            'keep-alive': 'timeout=1',
            'x-e2e': 'yes',
          })
          .end(),
      ),
    );
    const proxy = keep(await gateway(route(`${tool.url}/api/`)));
    const answer = await raw(
      proxy.port,
      'GET /proxy/tool/repos/x HTTP/1.1\r\nHost: gw\r\nConnection: close, X-Agent-Hop, Authorization\r\n' +
        'X-Agent-Hop: secret-ish\r\nTE: trailers\r\nUpgrade: websocket\r\nProxy-Connection: keep-alive\r\n\r\n',
    );
    const [seen] = tool.seen;
    for (const name of ['x-agent-hop', 'te', 'upgrade', 'proxy-connection'])
      expect(seen!.headers[name]).toBe(undefined);
    expect(seen!.headers['authorization']).toMatch(/^Bearer sk_live_/); // naming it in Connection cannot drop ours
    expect(answer).toMatch(/\r\nx-e2e: yes\r\n/i);
    expect(answer.toLowerCase()).not.toContain('x-upstream-hop');
    expect(answer.toLowerCase()).not.toContain('timeout=1');
  });
});
