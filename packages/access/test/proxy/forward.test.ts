import { once } from 'node:events';
import { request } from 'node:http';
import { freePort } from '@agentkey/test-support/ports.js';
import { describe, expect, it } from 'vitest';
import { closedAfterEach, gateway, LIMITS, route, SECRET, upstream } from './servers.js';

const keep = closedAfterEach();

describe('forward', () => {
  it("forwards a granted call with the secret injected, the agent's key stripped and Host set", async () => {
    const tool = keep(await upstream((_req, res) => res.end('{"ok":true}')));
    const proxy = keep(await gateway(route(`${tool.url}/api/`)));
    const answer = await fetch(`${proxy.url}/proxy/tool/repos/a?x=1`, {
      headers: { authorization: 'Bearer ak_agent', 'x-agentkey-key': 'ak_other', accept: 'application/json' },
    });
    expect(answer.status).toBe(200);
    expect(await answer.text()).toBe('{"ok":true}');
    const [seen] = tool.seen;
    expect(seen).toMatchObject({ method: 'GET', url: '/api/repos/a?x=1' });
    expect(seen!.headers).toMatchObject({
      authorization: `Bearer ${SECRET}`,
      host: `127.0.0.1:${tool.port}`,
    });
    expect(seen!.headers['x-agentkey-key']).toBe(undefined);
    expect(seen!.rawHeaders.filter((name) => /^authorization$/i.test(name))).toHaveLength(1);
    expect(proxy.outcomes).toEqual([
      { ok: true, status: 200, requestBytes: 0, responseBytes: 11, answered: true },
    ]);
  });

  it('streams the request body: the upstream reads its start before the agent has sent the rest', async () => {
    let firstChunk!: () => void;
    const started = new Promise<void>((resolve) => {
      firstChunk = resolve;
    });
    const tool = keep(
      await upstream((req, res) => {
        req.once('data', () => firstChunk());
        req.on('end', () => res.end(String((tool.seen[0] as { bytes: number }).bytes)));
      }),
    );
    const proxy = keep(await gateway(route(`${tool.url}/api/`)));
    const agent = request(`${proxy.url}/proxy/tool/repos/upload`, { method: 'POST' });
    agent.write(Buffer.alloc(64 * 1024, 1));
    await started; // a buffering proxy would wait for the end that never comes
    agent.end(Buffer.alloc(64 * 1024, 2));
    const [answer] = (await once(agent, 'response')) as [import('node:http').IncomingMessage];
    let body = '';
    for await (const chunk of answer) body += chunk;
    expect(body).toBe(String(128 * 1024));
    expect(tool.seen[0]!.headers['transfer-encoding']).toBe('chunked');
    expect(await proxy.next()).toMatchObject({ ok: true, requestBytes: 128 * 1024 });
  });

  it('streams the answer: the agent reads its start before the upstream has written the rest', async () => {
    let more!: () => void;
    const proceed = new Promise<void>((resolve) => {
      more = resolve;
    });
    const tool = keep(
      await upstream((_req, res) => {
        res.write('first;');
        void proceed.then(() => res.end('rest'));
      }),
    );
    const proxy = keep(await gateway(route(`${tool.url}/api/`)));
    const answer = await fetch(`${proxy.url}/proxy/tool/repos/stream`);
    const reader = answer.body!.getReader();
    const first = await reader.read();
    expect(Buffer.from(first.value!).toString()).toBe('first;');
    more();
    let rest = '';
    for (let part = await reader.read(); !part.done; part = await reader.read())
      rest += Buffer.from(part.value);
    expect(rest).toBe('rest');
  });

  it('passes an upstream 500 through as ok with its status (the caller decides the charge)', async () => {
    const tool = keep(
      await upstream((_req, res) => res.writeHead(500, { 'content-type': 'text/plain' }).end('boom')),
    );
    const proxy = keep(await gateway(route(`${tool.url}/api/`)));
    const answer = await fetch(`${proxy.url}/proxy/tool/repos/x`, { method: 'PUT', body: 'data' });
    expect([answer.status, await answer.text()]).toEqual([500, 'boom']);
    expect(await tool.seen[0]!.dropped).toBe(false);
    expect(tool.seen[0]!.method).toBe('PUT');
    expect(proxy.outcomes).toEqual([
      { ok: true, status: 500, requestBytes: 4, responseBytes: 4, answered: true },
    ]);
  });

  it('refuses an upstream nobody listens on: 502 upstream_unreachable', async () => {
    const proxy = keep(await gateway(route(`http://127.0.0.1:${await freePort()}/api/`)));
    const answer = await fetch(`${proxy.url}/proxy/tool/repos/x`);
    expect(answer.status).toBe(502);
    expect(await answer.json()).toMatchObject({ error: 'upstream_unreachable' });
    expect(proxy.outcomes[0]).toMatchObject({ ok: false, code: 'upstream_unreachable', answered: false });
  });

  it('bounds an upstream that never answers: 504 upstream_timeout, and the upstream call is dropped', async () => {
    const tool = keep(await upstream(() => {}));
    const proxy = keep(await gateway(route(`${tool.url}/api/`), { ...LIMITS, timeoutMs: 200 }));
    const answer = await fetch(`${proxy.url}/proxy/tool/repos/x`);
    expect(answer.status).toBe(504);
    expect(await answer.json()).toMatchObject({ error: 'upstream_timeout' });
    expect(proxy.outcomes[0]).toMatchObject({ code: 'upstream_timeout', answered: false });
    expect(await tool.seen[0]!.dropped).toBe(true);
  });

  it('bounds an upstream that stops halfway: the agent sees a cut answer, the outcome says answered', async () => {
    const tool = keep(
      await upstream((_req, res) => res.writeHead(200, { 'content-length': '100' }).write('half')),
    );
    const proxy = keep(await gateway(route(`${tool.url}/api/`), { ...LIMITS, timeoutMs: 200 }));
    const answer = await fetch(`${proxy.url}/proxy/tool/repos/x`);
    expect(answer.status).toBe(200);
    await expect(answer.text()).rejects.toThrow();
    expect(await proxy.next()).toMatchObject({
      ok: false,
      code: 'upstream_timeout',
      answered: true,
      responseBytes: 4,
    });
  });

  it('bounds the whole exchange with maxDurationMs, even while bytes trickle', async () => {
    const tool = keep(
      await upstream((_req, res) => {
        res.writeHead(200);
        const drip = setInterval(() => res.write('.'), 20);
        res.on('close', () => clearInterval(drip));
      }),
    );
    const proxy = keep(
      await gateway(route(`${tool.url}/api/`), { ...LIMITS, timeoutMs: 1_000, maxDurationMs: 300 }),
    );
    const answer = await fetch(`${proxy.url}/proxy/tool/repos/x`);
    await expect(answer.text()).rejects.toThrow();
    expect(await proxy.next()).toMatchObject({ code: 'upstream_timeout', answered: true });
  });

  it('drops the upstream call when the agent goes away: outcome aborted', async () => {
    let arrived!: () => void;
    const reached = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const tool = keep(await upstream(() => arrived()));
    const proxy = keep(await gateway(route(`${tool.url}/api/`), { ...LIMITS, timeoutMs: 10_000 }));
    const agent = request(`${proxy.url}/proxy/tool/repos/x`);
    agent.on('error', () => {});
    agent.end();
    await reached;
    const outcome = proxy.next();
    agent.destroy();
    expect(await outcome).toMatchObject({ ok: false, code: 'aborted', status: 499 });
    expect(await tool.seen[0]!.dropped).toBe(true);
  });
});
