// One route, two kinds of caller, one store: native ak_ keys (self-serve signup) and machines with
// OIDC access tokens (first sight). Both get the same scope, budget and expiry checks.
import { AgentKey } from '@agentkey/core';
import { type AgentKeyAuthRequest, agentKeyAuth, createAgentKeyRoutes } from '@agentkey/express';
import { oidcVerifier } from '@agentkey/oidc';
import express from 'express';
import pg from 'pg';

function fail(message: string): never {
  console.error(`mixed: ${message}`);
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
    firstSeen: { scopes: ['reports:read'], budgetCents: 10, budgetPeriod: 'month' },
    // Development only: an http:// issuer on this machine, such as a local IdP. Real ones are https://.
    allowInsecureIssuer: /^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?(\/|$)/.test(OIDC_ISSUER),
  });
} catch (error) {
  fail(`OIDC_ISSUER or OIDC_AUDIENCE: ${(error as Error).message}`);
}

const app = express();
app.use(express.json());
// Native keys: POST /signup gives one (reports:read, at most 100¢, expiring in 24h), and the key
// routes let it see itself, mint weaker keys and revoke them.
app.use(createAgentKeyRoutes(ak, { signupScopes: ['reports:read'], requireEmailForSignup: false }));

// The first verifier that accepts a token checks it; ak_ keys are checked by the store itself.
app.get(
  '/reports',
  agentKeyAuth({ agentKey: ak, verifiers: [oidc], scope: 'reports:read', cost: 2 }),
  (req, res) => {
    const { agentKey } = req as AgentKeyAuthRequest;
    res.json({
      kind: agentKey.kind, // 'key' or 'subject'
      caller: agentKey.subject ?? `key ${agentKey.id}`,
      remainingCents: agentKey.budget.remainingCents,
    });
  },
);

const server = app.listen(port, () => {
  console.log(`mixed listening on http://localhost:${(server.address() as { port: number }).port}`);
});
