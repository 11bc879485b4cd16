// An API for machines holding OIDC access tokens (client credentials, RFC 9068): each client gets
// its own budget the first time it calls, and pays per request.
import { AgentKey } from '@agentkey/core';
import { type AgentKeyAuthRequest, agentKeyAuth } from '@agentkey/express';
import { oidcVerifier } from '@agentkey/oidc';
import express from 'express';
import pg from 'pg';

function fail(message: string): never {
  console.error(`oidc-machine-api: ${message}`);
  process.exit(1);
}
const { DATABASE_URL, OIDC_ISSUER, OIDC_AUDIENCE, PORT = '3000' } = process.env;
if (!DATABASE_URL) fail('set DATABASE_URL to your PostgreSQL, e.g. postgres://localhost:5432/app');
if (!OIDC_ISSUER) fail('set OIDC_ISSUER to your authorization server, e.g. https://login.example.com/');
if (!OIDC_AUDIENCE) fail('set OIDC_AUDIENCE to the audience its tokens carry for this API');
const port = Number(PORT);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`PORT must be a port number, not ${PORT}`);

const pool = new pg.Pool({ connectionString: DATABASE_URL });
const ak = new AgentKey({ pool });
await ak.migrate().catch((error: Error) => fail(`cannot migrate (${error.message}): check DATABASE_URL`));

let oidc: ReturnType<typeof oidcVerifier>;
try {
  oidc = oidcVerifier({
    issuer: OIDC_ISSUER,
    audience: OIDC_AUDIENCE,
    // First sight: a client with no row yet gets one with these rights (none without a policy).
    firstSeen: { scopes: ['reports:read'], budgetCents: 10, budgetPeriod: 'month' },
    // Development only: an http:// issuer on this machine, such as a local IdP. Real ones are https://.
    allowInsecureIssuer: /^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?(\/|$)/.test(OIDC_ISSUER),
  });
} catch (error) {
  fail(`OIDC_ISSUER or OIDC_AUDIENCE: ${(error as Error).message}`);
}

const app = express();
// Each call needs the reports:read scope (in the row and in the token) and costs 2¢.
app.get(
  '/reports',
  agentKeyAuth({ agentKey: ak, verifiers: [oidc], scope: 'reports:read', cost: 2 }),
  (req, res) => {
    const { agentKey } = req as AgentKeyAuthRequest;
    res.json({ caller: agentKey.subject, remainingCents: agentKey.budget.remainingCents });
  },
);

const server = app.listen(port, () => {
  console.log(
    `oidc-machine-api listening on http://localhost:${(server.address() as { port: number }).port}`,
  );
});
