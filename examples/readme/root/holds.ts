import { AgentKey, type AuthError } from '@agentkey/core';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
const ak = new AgentKey({ pool });
await ak.migrate();
const { key, id } = await ak.create({ accountId: 'acme', scopes: ['chat'], budgetCents: 500 });
const callModel = async () => ({ cents: 12.5 });
const deny = (error: AuthError) => console.log(`refused: ${error.code}`);

async function handle() {
  // #region readme
  const r = await ak.authorize(key, { scope: 'chat', holdCents: 50, holdTtl: '5m' }); // checks + reserves in one round trip
  if (!r.ok) return deny(r.error);
  try {
    const usage = await callModel();                       // stream for a minute if you like
    await ak.settle(r.hold!.id, { costCents: usage.cents }); // charges the actual cost, frees the rest
  } catch (e) {
    await ak.release(r.hold!.id);                          // the call failed: free it all
    throw e;
  }
  // #endregion readme
}

await handle();
console.log(`held 50¢, settled at 12.5¢: key ${id} used ${(await ak.getKey(id))?.budget.usedCents}¢`);
await pool.end();
