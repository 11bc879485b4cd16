// was: import { AgentKey, agentKeyMiddleware, createAgentKeyRoutes } from '@katrinalaszlo/agentkey';
import { AgentKey, agentKeyMiddleware, createAgentKeyRoutes } from '@agentkey/express';
import express from 'express';
import pg from 'pg';

const ak = new AgentKey({ pool: new pg.Pool({ connectionString: process.env.DATABASE_URL }) });
await ak.migrate(); // your existing sdk_api_keys table: columns added, rows kept

const app = express();
app.use(express.json()); // before the routes: they read JSON bodies
app.use(createAgentKeyRoutes(ak));
app.get('/api/usage', agentKeyMiddleware(ak), (req, res) => res.json({ account: req.agentKey!.accountId }));
app.listen(3000);
