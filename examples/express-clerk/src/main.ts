// Express behind Clerk M2M tokens: each Clerk machine that calls gets its own budget on first
// sight, and pays per request. This API is itself a Clerk machine; a caller's token must list it.
import { clerkVerifier } from '@agentkey/clerk';
import { AgentKey } from '@agentkey/core';
import { type AgentKeyAuthRequest, agentKeyAuth } from '@agentkey/express';
import express from 'express';
import pg from 'pg';

function fail(message: string): never {
  console.error(`express-clerk: ${message}`);
  process.exit(1);
}
const {
  DATABASE_URL,
  CLERK_MACHINE_SECRET_KEY,
  CLERK_MACHINE_ID,
  CLERK_API_URL,
  PORT = '3000',
} = process.env;
if (!DATABASE_URL) fail('set DATABASE_URL to your PostgreSQL, e.g. postgres://localhost:5432/app');
if (!CLERK_MACHINE_SECRET_KEY) fail("set CLERK_MACHINE_SECRET_KEY to this API's machine secret key (ak_…)");
if (!CLERK_MACHINE_ID?.startsWith('mch_')) fail("set CLERK_MACHINE_ID to this API's machine id (mch_…)");
const port = Number(PORT);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`PORT must be a port number, not ${PORT}`);

const pool = new pg.Pool({ connectionString: DATABASE_URL });
const ak = new AgentKey({ pool });
await ak.migrate().catch((error: Error) => fail(`cannot migrate (${error.message}): check DATABASE_URL`));

let clerk: ReturnType<typeof clerkVerifier>;
try {
  clerk = clerkVerifier({
    machineSecretKey: CLERK_MACHINE_SECRET_KEY,
    ...(CLERK_API_URL ? { apiUrl: CLERK_API_URL } : {}), // default https://api.clerk.com
    // Clerk's token scopes are the machines the caller may call: may it call this one?
    scopeMap: { [CLERK_MACHINE_ID]: ['reports:read'] },
    // First sight: a machine with no row yet gets one with these rights (none without a policy).
    firstSeen: { scopes: ['reports:read'], budgetCents: 10, budgetPeriod: 'month' },
  });
} catch (error) {
  fail(`CLERK_MACHINE_SECRET_KEY or CLERK_API_URL: ${(error as Error).message}`);
}

const app = express();
// Each call needs reports:read (from the scope map, and in the row) and costs 2¢.
app.get(
  '/reports',
  agentKeyAuth({ agentKey: ak, verifiers: [clerk], scope: 'reports:read', cost: 2 }),
  (req, res) => {
    const { agentKey } = req as AgentKeyAuthRequest;
    res.json({ caller: agentKey.subject, remainingCents: agentKey.budget.remainingCents });
  },
);

const server = app.listen(port, () => {
  console.log(`express-clerk listening on http://localhost:${(server.address() as { port: number }).port}`);
});
