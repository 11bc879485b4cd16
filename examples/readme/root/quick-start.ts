import { AgentKey } from '@agentkey/core';
import pg from 'pg';

const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL,
  connectionTimeoutMillis: 2000, // a server that accepts no connection fails the call, not the process
  query_timeout: 5000, // pg gives a connection back that a frozen server never answers
  idleTimeoutMillis: 10_000,
});
pool.on('error', (err) => console.error('pg pool:', err)); // idle connections dropped by a restart
const ak = new AgentKey({ pool, validScopes: ['chat', 'search'] }); // every call answers within timeoutMs (3 s)
await ak.migrate(); // creates or upgrades `sdk_api_keys`; idempotent, safe from many processes

const { key, id } = await ak.create({
  accountId: 'acme',
  scopes: ['chat'],
  budgetCents: 500,
  budgetPeriod: 'month',
  expiresIn: '30d',
});
console.log(`minted key ${id}: ${key.slice(0, 11)}… (shown once, stored as a hash)`);

// On each request: revocation, expiry, scope and budget checked and the cost charged in one statement.
const result = await ak.authorize(key, { scope: 'chat', costCents: 0.042 });
if (!result.ok) {
  // result.error.code: 'invalid_token' | 'insufficient_scope' | 'budget_exceeded' | 'unavailable' | …
  console.log(`refused: ${result.error.code}: ${result.error.description}`);
} else {
  // result.principal (who), result.budget ({ limitCents, usedCents, heldCents, remainingCents, period, resetAt })
  console.log(`allowed for ${result.principal.accountId}: ${result.budget.remainingCents}¢ left`);
}
await pool.end(); // the process exits once the pool is closed
