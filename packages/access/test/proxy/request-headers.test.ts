import { describe, expect, it } from 'vitest';
import { upstreamHeaders } from '../../src/proxy/request-headers.js';
import { route, SECRET } from './servers.js';

const tool = route('http://127.0.0.1:4000/api/');
const url = new URL('http://127.0.0.1:4000/api/repos/x');
const build = (raw: string[], strip: string[] = []) => upstreamHeaders(tool, SECRET, url, raw, strip);

describe('upstreamHeaders', () => {
  it('drops hop-by-hop fields, those Connection names, our credentials, forwarding claims and the strip list; sets Host and the secret', () => {
    const out = build(
      [
        'Host',
        'gateway.local',
        'Connection',
        'keep-alive, X-Internal',
        'Keep-Alive',
        'timeout=5',
        'X-Internal',
        'hop',
        'TE',
        'trailers',
        'Upgrade',
        'websocket',
        'Proxy-Authorization',
        'Basic eA==',
        'Authorization',
        'Bearer ak_agent_key',
        'Cookie',
        'console=1',
        'Expect',
        '100-continue',
        'X-AgentKey-Key',
        'ak_other',
        'Forwarded',
        'for=10.0.0.1',
        'X-Forwarded-For',
        '10.0.0.1',
        'X-Real-IP',
        '10.0.0.1',
        'Accept',
        'application/json',
        'Accept',
        'text/plain',
      ],
      ['X-AgentKey-Key'],
    );
    expect(out).toEqual({
      ok: true,
      body: 0,
      headers: {
        accept: ['application/json', 'text/plain'],
        host: '127.0.0.1:4000',
        'accept-encoding': 'identity',
        authorization: `Bearer ${SECRET}`,
      },
    });
  });

  it("replaces the agent's own copy of the secret header, never adds a second", () => {
    const apiKey = route('http://127.0.0.1:4000/api/', {
      secretHeader: 'X-Api-Key',
      secretTemplate: '{secret}',
    });
    const out = upstreamHeaders(
      apiKey,
      SECRET,
      url,
      ['x-api-key', 'forged', 'Authorization', 'Bearer ak_x'],
      [],
    );
    expect(out).toMatchObject({ ok: true, headers: { 'x-api-key': SECRET } });
    expect(out.ok && out.headers['authorization']).toBe(undefined);
  });

  it("keeps a '$&' in the secret literally (no String.replace patterns)", () => {
    const out = build([]);
    expect(out.ok && out.headers['authorization']).toBe(`Bearer ${SECRET}`);
    expect(SECRET).toContain('$&');
  });

  it.each([
    [['X-A', 'a\r\nX-Injected: 1'], 'CRLF in a value'],
    [['X-A', 'a\nb'], 'LF in a value'],
    [['X-A', 'a\u0000b'], 'NUL in a value'],
    [['X A', 'a'], 'a name that is not a token'],
    [['Content-Length', '5', 'Transfer-Encoding', 'chunked'], 'Content-Length with Transfer-Encoding'],
    [['Content-Length', '5', 'Content-Length', '6'], 'two Content-Lengths'],
    [['Content-Length', '5', 'Content-Length', '5'], 'two equal Content-Lengths'],
    [['Content-Length', '5, 5'], 'a Content-Length list'],
    [['Content-Length', '-1'], 'a negative Content-Length'],
    [['Content-Length', '0x10'], 'a hex Content-Length'],
    [['Transfer-Encoding', 'gzip, chunked'], 'a Transfer-Encoding other than chunked'],
    [['Transfer-Encoding', 'chunked', 'Transfer-Encoding', 'chunked'], 'two Transfer-Encodings'],
  ])('refuses %j (%s) as bad_header', (raw) => {
    expect(build(raw)).toMatchObject({ ok: false, code: 'bad_header', status: 400 });
  });

  it('frames the body itself: one Content-Length, or chunked', () => {
    expect(build(['Content-Length', '12'])).toMatchObject({ body: 12, headers: { 'content-length': '12' } });
    expect(build(['Transfer-Encoding', 'Chunked'])).toMatchObject({
      body: 'chunked',
      headers: { 'transfer-encoding': 'chunked' },
    });
  });

  it('refuses a secret that cannot be a header value, without saying it', () => {
    const out = upstreamHeaders(tool, 'abc\r\nX-Evil: 1', url, [], []);
    expect(out).toMatchObject({ ok: false, code: 'tool_misconfigured', status: 500 });
    expect(JSON.stringify(out)).not.toContain('abc');
  });
});
