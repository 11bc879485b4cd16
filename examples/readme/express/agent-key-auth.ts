import { AgentKey } from '@agentkey/core';
import { type AgentKeyAuthRequest, agentKeyAuth } from '@agentkey/express';
import { oidcVerifier } from '@agentkey/oidc';
import express from 'express';
import pg from 'pg';

const ak = new AgentKey({ pool: new pg.Pool({ connectionString: process.env.DATABASE_URL }) });
await ak.migrate();

const auth = agentKeyAuth({
  agentKey: ak,
  verifiers: [oidcVerifier({ issuer: 'https://login.example.com/', audience: 'https://api.example.com' })],
  firstSeen: { scopes: ['chat'], budgetCents: 500, budgetPeriod: 'month' },
  scope: 'chat',
  cost: 2,
});

const app = express();
app.post('/chat', auth, (req, res) => {
  const { agentKey } = req as AgentKeyAuthRequest;
  res.json({ caller: agentKey.subject ?? agentKey.id, left: agentKey.budget.remainingCents });
});
app.listen(3000);
