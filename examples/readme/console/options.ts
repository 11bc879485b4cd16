import { Access } from '@agentkey/access';
import { agentKeyConsole } from '@agentkey/console';
import { AgentKey } from '@agentkey/core';
import express from 'express';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
const ak = new AgentKey({ pool });
const access = new Access({ ak, pool });
await ak.migrate();
await access.migrate();
const app = express();

// #region readme
const ui = agentKeyConsole({
  agentKey: ak,
  pool, // the pool `ak` is on: the pages read its tables
  access, // optional: approvals, tools, grants, suggestions and the audit log
  adminScope: 'console:admin', // the scope a key must name to sign in (the default)
  sessionSecret: process.env.CONSOLE_SESSION_SECRET, // ≥ 32 bytes; default: random per process
  sessionTtlMs: 8 * 3_600_000, // the default
  secureCookie: 'auto', // Secure when the request came over https (trust proxy behind one)
  oidc: {
    // optional: also sign humans in at your OpenID provider (code flow, PKCE, state, nonce)
    issuer: 'https://login.example.com',
    clientId: 'agentkey-console',
    clientSecret: process.env.CONSOLE_OIDC_SECRET, // leave out for a public client
    redirectUri: 'https://ops.example.com/agentkey/oidc/callback', // default: from the request
    adminClaim: 'roles', // the ID token claim that must name adminScope; default scope/scp/permissions/roles
  },
});
app.use('/agentkey', ui);
// #endregion readme
app.listen(3000);
