import { AgentKey } from '@agentkey/core';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
const ak = new AgentKey({ pool });
await ak.migrate();
const { key, id } = await ak.create({ accountId: 'acme', budgetCents: 500 });

// #region readme
await ak.update(id, { rateLimit: { requests: 50, cents: 100, windowSec: 60 } }); // null removes it
await ak.setAccountRateLimit('acme', { requests: 1000 }); // shared by all of acme's keys and subjects
// #endregion readme

// 60¢ then 50¢ more in one window: the second passes the key's 100¢ a minute.
const answers = [];
for (const costCents of [60, 50]) {
  const r = await ak.authorize(key, { costCents });
  answers.push(r.ok ? `allowed (${r.rateLimit?.remaining} left)` : `${r.error.code} (${r.error.rateLimit?.kind})`);
}
console.log(`rate limited: ${answers.join(', ')}`);
await pool.end();
