import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAgentKeyRoutes } from '@agentkey/express';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { harnessPerFile } from '../support/setup.js';

// The self-serve routes of @agentkey/express let an unrestricted key mint a child with any scope,
// on a pool of its own: "same row, same subject, same pool" does not see it as the requester.
describe('self-approval through a key the requester minted', () => {
  const f = harnessPerFile();
  let server: Server;
  let selfServe: string;
  beforeAll(async () => {
    const app = express();
    app.use(express.json(), createAgentKeyRoutes(f.h.ak));
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    selfServe = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server?.close(resolve)));

  it('an agent cannot approve its own request with an access:admin child it minted through POST /sdk-keys', async () => {
    const agent = await f.h.ak.create({ accountId: 'acme' });
    const asked = await f.h.call('POST', '/tools/github/request', agent.key, { reason: 'mine' });
    expect(asked.status).toBe(201);
    const minted = await fetch(`${selfServe}/sdk-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agent.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ scopes: ['access:admin'], name: 'my approver' }),
    });
    expect(minted.status).toBe(201);
    const child = (await minted.json()) as { key: string };
    const approved = await f.h.call(
      'POST',
      `/admin/requests/${asked.body.request.id}/approve`,
      child.key,
      {},
    );
    expect([approved.status, approved.body.error]).toEqual([403, 'self_approval']);
    const creds = await f.h.call('GET', '/tools/github/credentials', agent.key);
    expect([creds.status, creds.body.error]).toEqual([403, 'no_grant']);
  });
});
