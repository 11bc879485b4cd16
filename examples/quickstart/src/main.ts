/**
 * The scripted tour (`npx -y pnpm@10 quickstart`; the main job is examples/gateway): a key's
 * whole life on a database you already have, or on an embedded PGlite when DATABASE_URL is unset.
 * Migrate, mint a key, authorize it until its budget runs out, revoke it; then the budget engine
 * (holds, idempotency, an account ceiling, the ledger). Each step is printed.
 */

import { AgentKey, type AuthorizeResult } from '@agentkey/core';
import { openDatabase } from './database.js';
import { budgetEngineDemo } from './engine.js';

function show(step: string, result: AuthorizeResult): void {
  if (result.ok) {
    const { usedCents, remainingCents, limitCents } = result.budget;
    console.log(
      `  ${step}: allowed, charged ${result.chargedCents}¢ — used ${usedCents}¢ of ${limitCents}¢, ${remainingCents}¢ left`,
    );
  } else {
    console.log(`  ${step}: refused — ${result.error.code}: ${result.error.description}`);
  }
}

const db = await openDatabase();
if (!db) process.exit(1);
const { pool, label, close } = db;
try {
  console.log(`agentkey quickstart on ${label}`);
  const ak = new AgentKey({ pool, tableName: 'quickstart_keys', validScopes: ['chat', 'search'] });
  await ak.migrate();
  console.log('1. migrated the keys table');

  const created = await ak.create({
    accountId: 'acme',
    scopes: ['chat'],
    budgetCents: 5,
    budgetPeriod: 'day',
    expiresIn: '1h',
    name: 'demo-agent',
  });
  console.log(
    `2. minted key ${created.key.slice(0, 11)}… (shown once; stored only as a SHA-256 hash), budget 5¢/day, expires ${created.expiresAt}`,
  );

  console.log('3. the agent calls an LLM at 1.5¢ a call until its budget runs out:');
  for (let call = 1; call <= 4; call++) {
    show(`call ${call}`, await ak.authorize(created.key, { scope: 'chat', costCents: 1.5 }));
  }
  console.log('4. a call needing a scope the key lacks:');
  show('search', await ak.authorize(created.key, { scope: 'search', costCents: 0.1 }));

  console.log('5. a sub-cent call still fits exactly:');
  show('0.5¢ call', await ak.authorize(created.key, { scope: 'chat', costCents: 0.5 }));

  await ak.revoke(created.id);
  console.log('6. revoked the key:');
  show('after revoke', await ak.authorize(created.key, { scope: 'chat' }));

  await budgetEngineDemo(ak, (n) => `${6 + n}.`);
  console.log(`
Next:
  - README.md "Quick start": the same calls in your own code (examples/readme/root/quick-start.ts)
  - README.md "Budgets": holds, idempotency, the ledger and account ceilings
  - README.md "External identities": OIDC, Auth0 and Clerk callers, no ak_ key needed
  - packages/express/README.md: agentKeyAuth, the middleware in front of your routes
  - npx -y pnpm@10 test: every test, against a real PostgreSQL`);
} finally {
  await close();
}
