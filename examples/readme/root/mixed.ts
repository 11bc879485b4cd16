import { auth0Verifier } from '@agentkey/auth0';
import { clerkVerifier } from '@agentkey/clerk';
import { AgentKey } from '@agentkey/core';
import { oidcVerifier } from '@agentkey/oidc';
import express from 'express';
import pg from 'pg';
import { callOnce, token } from '../support.js';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
const ak = new AgentKey({ pool });
await ak.migrate();
const app = express();
const audience = 'https://api.example.com';
const oidc = oidcVerifier({ issuer: 'https://login.example.com/', audience });
const auth0 = auth0Verifier({ domain: 'example.eu.auth0.com', audience });
const clerk = clerkVerifier({ machineSecretKey: process.env.CLERK_MACHINE_SECRET_KEY });

// #region readme
import { type AgentKeyAuthRequest, agentKeyAuth } from '@agentkey/express';

const auth = agentKeyAuth({
  agentKey: ak,
  verifiers: [oidc, auth0, clerk],
  firstSeen: { scopes: ['chat'], budgetCents: 100, budgetPeriod: 'day' },
  scope: 'chat',
  cost: (req) => (req.query.model === 'large' ? 5 : 1),
});
app.post('/chat', auth, (req, res) => {
  const { agentKey } = req as AgentKeyAuthRequest;
  // kind: 'key' | 'subject'; verifier: 'native' | 'oidc:<issuer>' | 'auth0:<domain>' | 'clerk'
  res.json({
    who: agentKey.subject ?? agentKey.id,
    via: agentKey.verifier,
    left: agentKey.budget.remainingCents,
  });
});
// #endregion readme

const native = await ak.create({ accountId: 'acme', scopes: ['chat'], budgetCents: 100 });
await callOnce(app, [native.key, token('OIDC'), token('AUTH0'), token('CLERK')]);
await pool.end();
