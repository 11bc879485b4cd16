import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Access, accessRoutes } from '@agentkey/access';
import { AgentKey } from '@agentkey/core';
import { agentKeyAuth } from '@agentkey/express';
import express from 'express';
import pg from 'pg';

// Around the README's lines: a gateway (as in gateway.ts) on a free port, a stand-in for GitHub,
// an agent's key, and a human who approves what is asked.
const listening = (s: Server) =>
  new Promise<string>((resolve) =>
    s.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(s.address() as AddressInfo).port}`)),
  );
const github = createServer((req, res) => res.end(JSON.stringify({ issues: [], path: req.url })));
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
const ak = new AgentKey({ pool });
const access = new Access({ ak, pool });
await ak.migrate();
await access.migrate();
const alice = { kind: 'human', id: 'alice' } as const;
const tool = { id: 'github', name: 'GitHub', baseUrl: `${await listening(github)}/`, methods: ['GET'] };
await access.defineTool({ ...tool, pathPrefixes: ['/repos/'] }, alice);
await access.setSecret('github', process.env.GITHUB_TOKEN!, alice);
const app = express().use(accessRoutes({ access, auth: agentKeyAuth({ agentKey: ak }) }));
const gateway = createServer(app);
const api = await listening(gateway);
const AGENT_KEY = (await ak.create({ accountId: 'acme', budgetCents: 100 })).key;
type Answer = { tools: Array<{ id: string; status: string }>; request: { id: number } };
const approved = async (id: number) => {
  const done = await access.approve(id, { actor: alice }, { expiresIn: '1h' });
  if (!done.ok) throw new Error(done.message);
};

// #region readme
const headers = { authorization: `Bearer ${AGENT_KEY}`, 'content-type': 'application/json' };
const get = (path: string) => fetch(`${api}${path}`, { headers }).then((r) => r.json() as Promise<Answer>);
console.log((await get('/tools')).tools.map((t) => `${t.id}: ${t.status}`));
const body = JSON.stringify({ reason: 'triage issues', ttl: '1d' });
const asked = await fetch(`${api}/tools/github/request`, { method: 'POST', headers, body });
await approved(((await asked.json()) as Answer).request.id); // a human: POST /admin/requests/:id/approve
console.log(await get('/proxy/github/repos/octo/hello/issues')); // the agent never sees the token
// #endregion readme

gateway.closeAllConnections();
gateway.close();
github.close();
await pool.end();
