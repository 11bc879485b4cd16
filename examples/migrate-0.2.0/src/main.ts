// An app written for @katrinalaszlo/agentkey 0.2.0, moved to agentkey by changing one import.
import { AgentKey, agentKeyMiddleware, createAgentKeyRoutes } from '@agentkey/express';
import express from 'express';
import pg from 'pg';

function fail(message: string): never {
  console.error(`migrate-0.2.0: ${message}`);
  process.exit(1);
}
const { DATABASE_URL, PORT = '3000' } = process.env;
if (!DATABASE_URL) fail('set DATABASE_URL to your PostgreSQL, e.g. postgres://localhost:5432/app');
const port = Number(PORT);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`PORT must be a port number, not ${PORT}`);

const pool = new pg.Pool({ connectionString: DATABASE_URL });
const ak = new AgentKey({ pool });
// Your existing sdk_api_keys table keeps its rows; missing columns are added.
await ak.migrate().catch((error: Error) => fail(`cannot migrate (${error.message}): check DATABASE_URL`));

const app = express();
app.use(express.json()); // before the routes: they read JSON bodies
app.use(createAgentKeyRoutes(ak, { signupScopes: ['usage.read', 'proxy.chat'] }));

app.get('/api/usage', agentKeyMiddleware(ak, { scope: 'usage.read' }), (req, res) => {
  res.json({ account: req.agentKey!.accountId, scopes: req.agentKey!.scopes });
});

// A paid call: the middleware validates, the handler does the work and charges what it cost.
app.post('/api/proxy', agentKeyMiddleware(ak, { scope: 'proxy.chat' }), async (req, res) => {
  const rawKey = req.headers.authorization!.slice('Bearer '.length);
  const charged = await ak.trackUsage(rawKey, { costCents: 10 });
  if (!charged.success) {
    res.status(charged.reason === 'budget_exceeded' ? 429 : 401).json({ error: charged.reason });
    return;
  }
  res.json({
    reply: `echo: ${String(req.body?.prompt ?? '')}`,
    remainingCents: charged.budgetRemainingCents,
  });
});

const server = app.listen(port, () => {
  console.log(`migrate-0.2.0 listening on http://localhost:${(server.address() as { port: number }).port}`);
});
