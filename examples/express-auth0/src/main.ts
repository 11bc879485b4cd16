// Express behind Auth0 machine-to-machine tokens: each Auth0 application (client) that calls gets
// its own budget on first sight, and pays per request.
import { auth0Verifier } from '@agentkey/auth0';
import { AgentKey } from '@agentkey/core';
import { type AgentKeyAuthRequest, agentKeyAuth } from '@agentkey/express';
import express from 'express';
import pg from 'pg';

function fail(message: string): never {
  console.error(`express-auth0: ${message}`);
  process.exit(1);
}
const { DATABASE_URL, AUTH0_DOMAIN, AUTH0_AUDIENCE, AUTH0_ISSUER, PORT = '3000' } = process.env;
if (!DATABASE_URL) fail('set DATABASE_URL to your PostgreSQL, e.g. postgres://localhost:5432/app');
if (!AUTH0_DOMAIN) fail('set AUTH0_DOMAIN to your tenant, e.g. example.eu.auth0.com');
if (!AUTH0_AUDIENCE) fail("set AUTH0_AUDIENCE to your API's identifier, e.g. https://reports.example.com");
const port = Number(PORT);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`PORT must be a port number, not ${PORT}`);

const pool = new pg.Pool({ connectionString: DATABASE_URL });
const ak = new AgentKey({ pool });
await ak.migrate().catch((error: Error) => fail(`cannot migrate (${error.message}): check DATABASE_URL`));

let auth0: ReturnType<typeof auth0Verifier>;
try {
  auth0 = auth0Verifier({
    domain: AUTH0_DOMAIN,
    audience: AUTH0_AUDIENCE,
    // Development only: a local stand-in for the tenant (http:// on loopback). Unset in production.
    ...(AUTH0_ISSUER ? { issuer: AUTH0_ISSUER } : {}),
    // First sight: an application with no row yet gets one with these rights (none without a policy).
    firstSeen: { scopes: ['reports:read'], budgetCents: 10, budgetPeriod: 'month' },
  });
} catch (error) {
  fail(`AUTH0_DOMAIN, AUTH0_AUDIENCE or AUTH0_ISSUER: ${(error as Error).message}`);
}

const app = express();
// Each call needs reports:read (granted to the application in Auth0, and in its row) and costs 2¢.
app.get(
  '/reports',
  agentKeyAuth({ agentKey: ak, verifiers: [auth0], scope: 'reports:read', cost: 2 }),
  (req, res) => {
    const { agentKey } = req as AgentKeyAuthRequest;
    res.json({ caller: agentKey.subject, remainingCents: agentKey.budget.remainingCents });
  },
);

const server = app.listen(port, () => {
  console.log(`express-auth0 listening on http://localhost:${(server.address() as { port: number }).port}`);
});
