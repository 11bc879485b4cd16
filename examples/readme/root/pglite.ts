// #region readme
import { PGlite } from '@electric-sql/pglite';
import { AgentKey, fromPGlite } from '@agentkey/core';
const ak = new AgentKey({ pool: fromPGlite(new PGlite()) });
// #endregion readme

await ak.migrate();
const { key } = await ak.create({ accountId: 'acme', budgetCents: 5 });
const result = await ak.authorize(key, { costCents: 2 });
console.log(result.ok ? `allowed on PGlite: ${result.budget.remainingCents}¢ left` : result.error.code);
