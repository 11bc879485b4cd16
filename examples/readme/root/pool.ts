import { AgentKey } from '@agentkey/core';
import pg from 'pg';

// #region readme
const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL,
  max: 20, // per process: every process's max together stays under the server's max_connections
  connectionTimeoutMillis: 2000, // a server that accepts no connection fails the call, not the process
  query_timeout: 5000, // pg gives a connection back that a frozen server never answers
  idleTimeoutMillis: 10_000,
});
pool.on('error', (err) => console.error('pg pool:', err)); // idle connections dropped by a restart
const ak = new AgentKey({ pool, timeoutMs: 3000 }); // every call answers by its deadline (the default)
// #endregion readme

await ak.migrate();
const { key } = await ak.create({ accountId: 'acme', budgetCents: 10 });
const r = await ak.authorize(key, { costCents: 1 });
console.log(`with the recommended pool: ${r.ok ? `allowed, ${r.budget.remainingCents}¢ left` : r.error.code}`);
await pool.end();
