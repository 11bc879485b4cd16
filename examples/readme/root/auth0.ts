import { AgentKey } from '@agentkey/core';
import { agentKeyAuth } from '@agentkey/express';
import express from 'express';
import pg from 'pg';
import { callOnce, handler, token } from '../support.js';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
const ak = new AgentKey({ pool });
await ak.migrate();
const app = express();

// #region readme
import { auth0Verifier } from '@agentkey/auth0';

const auth0 = auth0Verifier({
  domain: 'example.eu.auth0.com',
  audience: 'https://api.example.com',
  firstSeen: { scopes: ['chat'], budgetCents: 500, budgetPeriod: 'month' },
});
app.post('/chat', agentKeyAuth({ agentKey: ak, verifiers: [auth0], scope: 'chat', cost: 2 }), handler);
// #endregion readme

await callOnce(app, [token('AUTH0')]);
await pool.end();
