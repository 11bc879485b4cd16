import { AgentKey } from '@agentkey/core';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
const ak = new AgentKey({ pool });
await ak.migrate();
const from = new Date(Date.now() - 86_400_000);
const to = new Date(Date.now() + 60_000);
const { key } = await ak.create({ accountId: 'acme', budgetCents: 100 });
await ak.authorize(key, { costCents: 3 });

// #region readme
await ak.spend({ keyId: 42 }, { from, to, groupBy: 'day' }); // { totalCents, buckets: [{ start, cents }] }
await ak.spend({ subject: 'https://idp.example|bot-7' }, { from, to });
await ak.spend({ accountId: 'acme' }, { from, to, groupBy: 'hour' });
// #endregion readme

console.log(`acme spent ${(await ak.spend({ accountId: 'acme' }, { from, to })).totalCents}¢`);
await pool.end();
