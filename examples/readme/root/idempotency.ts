import { AgentKey } from '@agentkey/core';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
const ak = new AgentKey({ pool });
await ak.migrate();
const { key, id } = await ak.create({ accountId: 'acme', budgetCents: 100 });
const req: { headers: Record<string, string | undefined> } = { headers: { 'idempotency-key': 'req-1' } };

for (let attempt = 0; attempt < 2; attempt++) {
  // #region readme
  await ak.authorize(key, { costCents: 4.2, idempotencyKey: req.headers['idempotency-key'] });
  // #endregion readme
}
console.log(`two attempts, one charge: key ${id} used ${(await ak.getKey(id))?.budget.usedCents}¢`);
await pool.end();
