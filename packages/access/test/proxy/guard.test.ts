import { once } from 'node:events';
import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { checkProxyRequest, forward, type ProxyOutcome } from '../../src/proxy/index.js';
import { closedAfterEach, LIMITS, type Running, route, SECRET, upstream } from './servers.js';

const keep = closedAfterEach();

/** A careless caller: checks one request, then forwards whatever arrives to the URL it got. */
async function careless(tool: Running, checkedMethod: string, checkedPath: string) {
  const toolRoute = route(`${tool.url}/api/`);
  const checked = checkProxyRequest(toolRoute, checkedMethod, checkedPath);
  if (!checked.ok) throw new Error('the setup path must pass');
  const outcomes: ProxyOutcome[] = [];
  const server = createServer(async (req, res) => {
    const url = new URL(checked.url);
    if (req.url !== '/') url.pathname = req.url!; // a caller that rewrites the URL after the check
    const outcome = await forward(toolRoute, SECRET, url, req, res, LIMITS, []);
    outcomes.push(outcome);
    if (!outcome.answered) res.writeHead(outcome.status).end(outcome.code);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  keep({ close: () => void server.close() });
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, outcomes };
}

describe('forward checks again what it is handed', () => {
  it('refuses a method the route does not grant, whatever the caller checked', async () => {
    const tool = keep(await upstream((_req, res) => res.end()));
    const gate = await careless(tool, 'GET', '/repos/x');
    const answer = await fetch(`${gate.url}/`, { method: 'DELETE' });
    expect([answer.status, await answer.text()]).toEqual([405, 'method_not_allowed']);
    expect(tool.seen).toEqual([]);
  });

  it('refuses a URL outside the base path, whatever the caller checked', async () => {
    const tool = keep(await upstream((_req, res) => res.end()));
    const gate = await careless(tool, 'GET', '/repos/x');
    const answer = await fetch(`${gate.url}/admin`);
    expect([answer.status, await answer.text()]).toEqual([400, 'bad_path']);
    expect(tool.seen).toEqual([]);
  });
});
