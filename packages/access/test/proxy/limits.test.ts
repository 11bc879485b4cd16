import { once } from 'node:events';
import { type IncomingMessage, request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { closedAfterEach, gateway, LIMITS, raw, route, upstream } from './servers.js';

const keep = closedAfterEach();
const CAP = 64 * 1024;

describe('body caps', () => {
  it('refuses a declared body over the cap with 413 before reading it, and never calls the upstream', async () => {
    const tool = keep(await upstream((_req, res) => res.end()));
    const proxy = keep(await gateway(route(`${tool.url}/api/`), { ...LIMITS, maxRequestBytes: CAP }));
    // One gigabyte declared, none of it sent: a proxy that read or buffered the body would hang here.
    const answer = await raw(
      proxy.port,
      'POST /proxy/tool/repos/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 1073741824\r\n\r\n',
      Buffer.alloc(1024),
    );
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toMatch(/\r\nconnection: close\r\n/i);
    expect(answer).toContain('"error":"body_too_large"');
    expect(tool.seen).toEqual([]);
    expect(proxy.outcomes[0]).toMatchObject({
      code: 'body_too_large',
      status: 413,
      answered: false,
      requestBytes: 0,
    });
  });

  it('cuts a chunked body at the cap: 413, the upstream saw at most the cap and no complete request', async () => {
    const tool = keep(await upstream(() => {}));
    const proxy = keep(await gateway(route(`${tool.url}/api/`), { ...LIMITS, maxRequestBytes: CAP }));
    const agent = request(`${proxy.url}/proxy/tool/repos/x`, { method: 'POST' });
    agent.on('error', () => {});
    let sent = 0;
    let answered = false;
    const answer = once(agent, 'response').then(([res]) => {
      answered = true;
      return res as IncomingMessage;
    });
    // Send an endless body until the proxy answers; backpressure keeps this from running away.
    while (!answered) {
      const chunk = Buffer.alloc(16 * 1024, 7);
      sent += chunk.length;
      if (!agent.write(chunk)) await Promise.race([once(agent, 'drain'), answer]);
    }
    const res = await answer;
    expect(res.statusCode).toBe(413);
    expect(sent).toBeGreaterThan(CAP);
    // The cap may be hit before the upstream connection is even up: then it sees nothing at all.
    expect(tool.seen.length).toBeLessThanOrEqual(1);
    for (const seen of tool.seen) {
      expect(await seen.complete).toBe(false);
      expect(seen.bytes).toBeLessThanOrEqual(CAP);
    }
    expect(await proxy.next()).toMatchObject({ code: 'body_too_large', answered: false });
    agent.destroy();
  });

  it('forwards a body at exactly the cap', async () => {
    const tool = keep(await upstream((req, res) => req.on('end', () => res.end('got it')).resume()));
    const proxy = keep(await gateway(route(`${tool.url}/api/`), { ...LIMITS, maxRequestBytes: CAP }));
    const answer = await fetch(`${proxy.url}/proxy/tool/repos/x`, {
      method: 'POST',
      body: Buffer.alloc(CAP),
    });
    expect([answer.status, await answer.text()]).toEqual([200, 'got it']);
    expect(tool.seen[0]!.headers['content-length']).toBe(String(CAP));
  });

  it('refuses an answer declared over maxResponseBytes: 502 response_too_large, nothing passed on', async () => {
    const tool = keep(
      await upstream((_req, res) => res.writeHead(200, { 'content-length': String(CAP + 1) }).end()),
    );
    const proxy = keep(await gateway(route(`${tool.url}/api/`), { ...LIMITS, maxResponseBytes: CAP }));
    const answer = await fetch(`${proxy.url}/proxy/tool/repos/x`);
    expect(answer.status).toBe(502);
    expect(await answer.json()).toMatchObject({ error: 'response_too_large' });
  });

  it('cuts an undeclared answer at maxResponseBytes: the agent sees a broken answer, not a short one', async () => {
    const tool = keep(
      await upstream((_req, res) => {
        res.writeHead(200);
        res.end(Buffer.alloc(CAP * 4));
      }),
    );
    const proxy = keep(await gateway(route(`${tool.url}/api/`), { ...LIMITS, maxResponseBytes: CAP }));
    const answer = await fetch(`${proxy.url}/proxy/tool/repos/x`);
    await expect(answer.arrayBuffer()).rejects.toThrow();
    expect(await proxy.next()).toMatchObject({ code: 'response_too_large', answered: true });
  });
});
