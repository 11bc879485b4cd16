import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { closedAfterEach, gateway, LIMITS, route, SECRET, upstream } from './servers.js';

const keep = closedAfterEach();

/** An upstream that ignores our Accept-Encoding: identity and encodes its answer anyway. */
async function encoding(coding: string, body: Buffer, limits = LIMITS) {
  const tool = keep(
    await upstream((_req, res) =>
      res.writeHead(200, { 'content-encoding': coding, 'content-length': String(body.length) }).end(body),
    ),
  );
  return keep(await gateway(route(`${tool.url}/api/`), limits));
}
const echo = Buffer.from(JSON.stringify({ token: SECRET, note: 'echoed' }));

describe('encoded answers', () => {
  it.each([
    ['gzip', gzipSync(echo)],
    ['x-gzip', gzipSync(echo)],
    ['deflate', deflateSync(echo)],
    ['br', brotliCompressSync(echo)],
  ])('decodes %s to read it for the secret, and passes it on decoded', async (coding, body) => {
    const proxy = await encoding(coding, body);
    const answer = await fetch(`${proxy.url}/proxy/tool/repos/x`);
    expect(answer.headers.get('content-encoding')).toBe(null);
    expect(await answer.json()).toEqual({ token: '*'.repeat(SECRET.length), note: 'echoed' });
    expect(await proxy.next()).toMatchObject({ ok: true, responseBytes: echo.length });
  });

  it.each([
    ['zstd', Buffer.from('not read')],
    ['gzip, gzip', gzipSync(gzipSync(echo))],
  ])('refuses a coding it cannot read (%s): 502 upstream_error, nothing passed on', async (coding, body) => {
    const proxy = await encoding(coding, body);
    const answer = await fetch(`${proxy.url}/proxy/tool/repos/x`);
    expect(answer.status).toBe(502);
    expect(await answer.json()).toMatchObject({ error: 'upstream_error' });
  });

  it('refuses a body that does not decode as it says', async () => {
    const proxy = await encoding('gzip', Buffer.from('this is not gzip at all'));
    // The status was already committed: the agent gets a broken answer, never a clean one.
    await expect(fetch(`${proxy.url}/proxy/tool/repos/x`).then((answer) => answer.text())).rejects.toThrow();
    expect(await proxy.next()).toMatchObject({ code: 'upstream_error', answered: true });
  });

  it('counts decoded bytes against maxResponseBytes: a small bomb cannot unpack past the cap', async () => {
    const bomb = gzipSync(Buffer.alloc(8 << 20));
    const proxy = await encoding('gzip', bomb, { ...LIMITS, maxResponseBytes: 1 << 20 });
    const answer = await fetch(`${proxy.url}/proxy/tool/repos/x`);
    await expect(answer.arrayBuffer()).rejects.toThrow();
    expect(await proxy.next()).toMatchObject({ code: 'response_too_large', answered: true });
    expect(bomb.length).toBeLessThan(1 << 20);
  });

  it('passes the headers of a HEAD answer as they are (there is no body to decode)', async () => {
    const tool = keep(
      await upstream((_req, res) =>
        res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': '1234' }).end(),
      ),
    );
    const proxy = keep(await gateway(route(`${tool.url}/api/`)));
    const answer = await fetch(`${proxy.url}/proxy/tool/repos/x`, { method: 'HEAD' });
    expect([
      answer.status,
      answer.headers.get('content-encoding'),
      answer.headers.get('content-length'),
    ]).toEqual([200, 'gzip', '1234']);
    expect(tool.seen[0]!.method).toBe('HEAD');
  });
});
