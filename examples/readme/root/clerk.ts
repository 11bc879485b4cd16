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
import { clerkVerifier } from '@agentkey/clerk';

const clerk = clerkVerifier({
  machineSecretKey: process.env.CLERK_MACHINE_SECRET_KEY,
  firstSeen: { scopes: ['chat'], budgetCents: 500, budgetPeriod: 'month' },
});
app.post('/chat', agentKeyAuth({ agentKey: ak, verifiers: [clerk], scope: 'chat', cost: 2 }), handler);
// #endregion readme

await callOnce(app, [token('CLERK')]);
await pool.end();
