import { AgentKey } from '@agentkey/core';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
const ak = new AgentKey({ pool });
await ak.migrate();
const { key: parentKey, id: parentId } = await ak.create({ accountId: 'acme', budgetCents: 100 });
const { key } = await ak.create({ accountId: 'acme', budgetCents: 2 }); // its own cap refuses the 3¢ below
const runSubAgent = async (childKey: string) => {
  const r = await ak.authorize(childKey, { scope: 'search' });
  console.log(`the sub-agent's key: ${r.ok ? 'allowed' : r.error.code}`);
};

// #region readme
await ak.setAccountBudget('acme', { budgetCents: 50_000, budgetPeriod: 'month' }, { actor: 'ops@acme.com' });
const r = await ak.authorize(key, { costCents: 3 });
// refused: { code: 'budget_exceeded', cap: 'account' }  (or cap: 'key' for the key's own cap)

const child = await ak.create({ accountId: 'acme', poolParentId: parentId }); // shares the parent's pool
await ak.withChildKey(parentKey, { scopes: ['search'], expiresIn: '10m' }, async (child) => {
  await runSubAgent(child.key); // revoked when this settles, even if it throws
});
// #endregion readme

console.log(`3¢ more: ${r.ok ? 'allowed' : `${r.error.code} (cap: ${r.error.cap})`}; pooled child ${child.id}`);
await pool.end();
