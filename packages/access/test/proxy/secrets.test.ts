import { freePort } from '@agentkey/test-support/ports.js';
import { describe, expect, it } from 'vitest';
import { closedAfterEach, gateway, LIMITS, raw, route, SECRET, upstream } from './servers.js';

const keep = closedAfterEach();

/** Every form in which the secret could leak, lower-cased (the checks below lower-case the answer). */
const FORMS = [
  SECRET,
  encodeURIComponent(SECRET),
  Buffer.from(SECRET).toString('base64').replace(/=+$/, ''),
  Buffer.from(SECRET).toString('base64url'),
].map((form) => form.toLowerCase());
const leaks = (answer: string) => FORMS.filter((form) => answer.toLowerCase().includes(form));

describe('the secret never reaches the agent', () => {
  it('not through an upstream that echoes our request headers back in its headers, status line or cookies', async () => {
    const tool = keep(
      await upstream((req, res) => {
        const auth = req.headers.authorization ?? '';
        const echo: [string, string][] = Object.entries(req.headers).map(([name, value]) => [
          `x-echo-${name}`,
          String(value),
        ]);
        echo.push(['x-echo-b64', Buffer.from(auth.slice(7)).toString('base64')]);
        echo.push(['x-echo-encoded', encodeURIComponent(auth)]);
        echo.push(['x-echo-upper', auth.toUpperCase()]);
        echo.push(['set-cookie', `s=${auth.slice(7)}`]);
        echo.push(['www-authenticate', `Bearer error="invalid_token", token="${auth.slice(7)}"`]);
        res.writeHead(401, `Bad token ${auth}`, echo.flat());
        res.end('{"error":"unauthorized"}');
      }),
    );
    const proxy = keep(await gateway(route(`${tool.url}/api/`)));
    const answer = await raw(
      proxy.port,
      'GET /proxy/tool/repos/x HTTP/1.1\r\nHost: gw\r\nAccept: text/plain\r\nConnection: close\r\n\r\n',
    );
    expect(tool.seen[0]!.headers.authorization).toBe(`Bearer ${SECRET}`); // it did get the secret…
    expect(answer).toMatch(/^HTTP\/1\.1 401 Unauthorized\r\n/); // …our status line, not the upstream's words
    expect(answer).toMatch(/\r\nx-echo-accept: text\/plain\r\n/i); // the echo works for other headers
    expect(leaks(answer)).toEqual([]);
    expect(answer.toLowerCase()).not.toContain('set-cookie');
    expect(JSON.stringify(proxy.outcomes)).not.toContain(SECRET);
  });

  it('not through an upstream that echoes our request headers in its body (masked, length kept)', async () => {
    const tool = keep(
      await upstream((req, res) => {
        const body = Buffer.from(JSON.stringify({ headers: req.headers }));
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) });
        // Byte by byte through the secret, so it is split across many chunks.
        const at = body.indexOf('sk_live_');
        res.write(body.subarray(0, at));
        let i = at;
        const drip = () => {
          if (i >= at + SECRET.length) return res.end(body.subarray(i));
          res.write(body.subarray(i, ++i), drip);
        };
        drip();
      }),
    );
    const proxy = keep(await gateway(route(`${tool.url}/api/`)));
    const answer = await fetch(`${proxy.url}/proxy/tool/repos/x`, {
      headers: { 'accept-encoding': 'gzip, br' },
    });
    const text = await answer.text();
    expect(tool.seen[0]!.headers['accept-encoding']).toBe('identity');
    // The presented form ('Bearer <secret>') is one of the masked forms, so the whole value goes.
    expect(JSON.parse(text).headers.authorization).toBe('*'.repeat(`Bearer ${SECRET}`.length));
    expect(text.length).toBe(Number(answer.headers.get('content-length')));
    expect(leaks(text)).toEqual([]);
  });

  it('not in any refusal, whatever went wrong', async () => {
    const other = keep(await upstream((_req, res) => res.end()));
    const tool = keep(
      await upstream((req, res) => {
        if (req.url === '/api/repos/hang') return;
        res.writeHead(302, { location: `${other.url}/?token=${SECRET}` }).end();
      }),
    );
    const proxy = keep(
      await gateway(route(`${tool.url}/api/`), { ...LIMITS, timeoutMs: 200, maxRequestBytes: 10 }),
    );
    const dead = keep(await gateway(route(`http://127.0.0.1:${await freePort()}/api/`)));
    const close = 'Host: gw\r\nConnection: close\r\n';
    const answers = [
      await raw(proxy.port, `GET /proxy/tool/repos/%2e%2e/x HTTP/1.1\r\n${close}\r\n`),
      await raw(proxy.port, `DELETE /proxy/tool/repos/x HTTP/1.1\r\n${close}\r\n`),
      await raw(proxy.port, `GET /proxy/tool/admin HTTP/1.1\r\n${close}\r\n`),
      await raw(
        proxy.port,
        `POST /proxy/tool/repos/x HTTP/1.1\r\n${close}Content-Length: 11\r\n\r\nhello world`,
      ),
      await raw(proxy.port, `GET /proxy/tool/repos/redirect HTTP/1.1\r\n${close}\r\n`),
      await raw(proxy.port, `GET /proxy/tool/repos/hang HTTP/1.1\r\n${close}\r\n`),
      await raw(dead.port, `GET /proxy/tool/repos/x HTTP/1.1\r\n${close}\r\n`),
    ];
    expect(answers.map((a) => a.split('\r\n')[0])).toEqual([
      'HTTP/1.1 400 Bad Request',
      'HTTP/1.1 405 Method Not Allowed',
      'HTTP/1.1 403 Forbidden',
      'HTTP/1.1 413 Payload Too Large',
      'HTTP/1.1 502 Bad Gateway',
      'HTTP/1.1 504 Gateway Timeout',
      'HTTP/1.1 502 Bad Gateway',
    ]);
    expect(answers.flatMap(leaks)).toEqual([]);
    expect(JSON.stringify([...proxy.outcomes, ...dead.outcomes])).not.toContain(SECRET);
    expect(other.seen).toEqual([]);
  });
});
