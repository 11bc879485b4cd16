import { AgentKey } from '@agentkey/core';
import { agentKeyMiddleware } from '@agentkey/express';
import express from 'express';
import pg from 'pg';

const ak = new AgentKey({ pool: new pg.Pool({ connectionString: process.env.DATABASE_URL }) });
await ak.migrate();

const app = express();
app.get('/api/usage', agentKeyMiddleware(ak, { scope: 'usage.read' }), (req, res) => {
  res.json({ account: req.agentKey!.accountId });
});
app.listen(3000);
