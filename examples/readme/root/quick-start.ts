import { AgentKey } from '@agentkey/core';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL }); // production settings: "Deployment"
const ak = new AgentKey({ pool, validScopes: ['chat', 'search'] });
await ak.migrate(); // creates or upgrades `sdk_api_keys`; idempotent, safe from many processes

const { key, id } = await ak.create({ accountId: 'acme', scopes: ['chat'], budgetCents: 500 });
console.log(`minted key ${id}: ${key.slice(0, 11)}… (shown once, stored as a hash)`);

// On each request: revocation, expiry, scope and budget checked, and the cost charged, in one statement.
const r = await ak.authorize(key, { scope: 'chat', costCents: 0.042 });
console.log(r.ok ? `allowed for ${r.principal.accountId}: ${r.budget.remainingCents}¢ left` : r.error.code);
await pool.end();
