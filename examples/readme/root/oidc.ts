import { AgentKey } from '@agentkey/core';
import { agentKeyAuth } from '@agentkey/express';
import { oidcVerifier } from '@agentkey/oidc';
import express from 'express';
import pg from 'pg';

const ak = new AgentKey({ pool: new pg.Pool({ connectionString: process.env.DATABASE_URL }) });
await ak.migrate();

const oidc = oidcVerifier({
  issuer: 'https://login.example.com/',
  audience: 'https://api.example.com',
  firstSeen: { scopes: ['chat'], budgetCents: 500, budgetPeriod: 'month' },
});

const app = express();
app.post('/chat', agentKeyAuth({ agentKey: ak, verifiers: [oidc], scope: 'chat', cost: 2 }), (req, res) => {
  res.json({ account: req.agentKey!.accountId });
});
app.listen(3000);
