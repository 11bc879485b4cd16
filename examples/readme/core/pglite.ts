import { AgentKey, fromPGlite } from '@agentkey/core';
import { PGlite } from '@electric-sql/pglite';

// An embedded PostgreSQL: nothing to install or start. With a server: `pool: new pg.Pool()`.
const ak = new AgentKey({ pool: fromPGlite(new PGlite()) });
await ak.migrate(); // creates or upgrades the keys table; idempotent, safe from many processes

const { key } = await ak.create({ accountId: 'acme', scopes: ['chat'], budgetCents: 100 });

// Revocation, expiry, scope and budget checked, and the cost charged, in one atomic step.
for (const costCents of [60, 60]) {
  const result = await ak.authorize(key, { scope: 'chat', costCents });
  console.log(result.ok ? `allowed, ${result.budget.remainingCents}¢ left` : `refused: ${result.error.code}`);
}
// allowed, 40¢ left
// refused: budget_exceeded
