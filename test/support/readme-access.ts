import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Access } from '@agentkey/access';
import { AgentKey } from '@agentkey/core';
import { expect } from 'vitest';
import { serverPool } from './db.js';

/** The env examples/readme/access/gateway.ts runs with: a key ring and the tool's token. */
export const ACCESS_ENV = {
  AGENTKEY_SECRET_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
  GITHUB_TOKEN: 'ghp_readme_token',
};

/**
 * One agent's whole flow against the running README gateway: the tool moved to a local upstream
 * (the example names api.github.com), a request, an approval by an admin, a proxied call that
 * reaches the upstream with the token, and a vend.
 */
export async function accessFlow(origin: string, schema: string): Promise<void> {
  let seen: IncomingHttpHeaders = {};
  const upstream = createServer((req, res) => {
    seen = req.headers;
    res.end(JSON.stringify({ path: req.url }));
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const pool = serverPool(schema, 1);
  try {
    const ak = new AgentKey({ pool });
    const access = new Access({ ak, pool, secretKeys: ACCESS_ENV.AGENTKEY_SECRET_KEYS });
    const alice = { kind: 'human', id: 'alice' } as const;
    await ak.migrate();
    await access.migrate();
    const tool = (await access.getTool('github'))!;
    const port = (upstream.address() as AddressInfo).port;
    await access.defineTool(
      { ...tool, baseUrl: `http://127.0.0.1:${port}/`, presentation: undefined },
      alice,
    );
    const { key: agent } = await ak.create({ accountId: 'acme', budgetCents: 100 });
    const { key: admin } = await ak.create({ accountId: 'ops', scopes: ['access:admin'] });
    const call = async (method: string, path: string, key: string, body?: unknown) => {
      const res = await fetch(`${origin}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      // biome-ignore lint/suspicious/noExplicitAny: a JSON reply, checked field by field with expect
      return { status: res.status, body: (await res.json()) as any };
    };
    expect((await call('GET', '/tools', agent)).body.tools[0].status).toBe('none');
    const asked = await call('POST', '/tools/github/request', agent, { reason: 'triage issues' });
    expect(asked.status).toBe(201);
    const ok = await call('POST', `/admin/requests/${asked.body.request.id}/approve`, admin, {
      expiresIn: '1h',
    });
    expect(ok.body.grant.status).toBe('granted');
    const proxied = await call('GET', '/proxy/github/repos/octo/hello', agent);
    expect(proxied).toEqual({ status: 200, body: { path: '/repos/octo/hello' } });
    expect(seen.authorization).toBe(`Bearer ${ACCESS_ENV.GITHUB_TOKEN}`);
    expect((await call('GET', '/tools/github/credentials', agent)).body.secret).toBe(ACCESS_ENV.GITHUB_TOKEN);
  } finally {
    await pool.end();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  }
}
