import type { AddressInfo } from 'node:net';
import { AgentKey } from '@agentkey/core';
import { agentKeyAuth } from '@agentkey/express';
import { oidcVerifier } from '@agentkey/oidc';
import express from 'express';
import pg from 'pg';
import { handler } from '../support.js';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
const ak = new AgentKey({ pool, validScopes: ['chat', 'search'] });
await ak.migrate();
const app = express();

// #region readme
const auth = agentKeyAuth({
  agentKey: ak,
  verifiers: [oidcVerifier({ issuer: 'https://login.example.com/', audience: 'https://api.example.com' })],
  scope: 'chat',
  protectedResource: { resource: 'https://api.example.com' },
});
app.use(auth); // answers GET /.well-known/oauth-protected-resource before it asks for a token
app.post('/chat', handler);
// #endregion readme

const server = app.listen(0);
await new Promise((resolve) => server.once('listening', resolve));
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const metadata = await fetch(`${origin}/.well-known/oauth-protected-resource`);
console.log(`GET /.well-known/oauth-protected-resource → ${metadata.status} ${await metadata.text()}`);
const refused = await fetch(`${origin}/chat`, { method: 'POST' });
console.log(`POST /chat → ${refused.status} WWW-Authenticate: ${refused.headers.get('www-authenticate')}`);
await new Promise((resolve) => server.close(resolve));
await pool.end();
