/**
 * The budget engine in the main job: a streamed call under a hold, a retried charge that bills
 * once, an account ceiling shared by two keys, and the ledger that explains every counter.
 */

import { randomBytes } from 'node:crypto';
import type { AgentKey } from '@agentkey/core';

const fmt = (cents: number) => `${Number(cents.toFixed(4))}¢`;

export async function budgetEngineDemo(ak: AgentKey, step: (n: number) => string): Promise<void> {
  const from = new Date();
  // A fresh account each run, so a second run on the same database starts from zero too.
  const globex = `globex-${randomBytes(3).toString('hex')}`;
  await ak.setAccountBudget(globex, { budgetCents: 10, budgetPeriod: 'month' }, { actor: 'ops@globex' });
  const a = await ak.create({ accountId: globex, scopes: ['chat'], budgetCents: 8, name: 'agent-a' });
  const b = await ak.create({ accountId: globex, scopes: ['chat'], budgetCents: 8, name: 'agent-b' });
  console.log(`${step(1)} account ${globex}: a 10¢/month ceiling over two keys of 8¢ each`);

  // A streamed LLM call: reserve its maximum, settle what it really cost.
  const held = await ak.authorize(a.key, { scope: 'chat', holdCents: 4, holdTtl: '5m' });
  if (!held.ok || !held.hold)
    throw new Error(`the hold was refused: ${held.ok ? 'no hold' : held.error.code}`);
  console.log(
    `${step(2)} agent-a reserves ${fmt(held.hold.amountCents)} for a streamed call (counts at once)`,
  );
  const settled = await ak.settle(held.hold.id, { costCents: 2.0625 });
  if (!settled.ok) throw new Error(`settle failed: ${settled.error.code}`);
  console.log(
    `  settled at ${fmt(settled.chargedCents)}; the rest is free again — agent-a used ${fmt(settled.budget.usedCents)}`,
  );

  // A client retry with the same idempotency key bills once.
  const first = await ak.authorize(b.key, { scope: 'chat', costCents: 5, idempotencyKey: 'req-7f3a' });
  const retry = await ak.authorize(b.key, { scope: 'chat', costCents: 5, idempotencyKey: 'req-7f3a' });
  console.log(
    `${step(3)} agent-b charges 5¢ as request req-7f3a, then retries it: ${first.ok ? 'charged' : 'refused'}, then ${retry.ok && retry.replayed ? 'replayed (nothing more charged)' : 'charged again!'}`,
  );

  // agent-b's own cap (8¢) has room for 3¢ more, but the account's (10¢) does not.
  const over = await ak.authorize(b.key, { scope: 'chat', costCents: 3 });
  console.log(
    `${step(4)} agent-b asks for 3¢ more: ${over.ok ? 'allowed' : `refused — ${over.error.code} (cap: ${over.error.cap})`}`,
  );

  const spend = await ak.spend({ accountId: globex }, { from, to: new Date(Date.now() + 1000) });
  const account = await ak.getAccount(globex);
  console.log(
    `${step(5)} the ledger says ${globex} spent ${fmt(spend.totalCents)}; its counter says ${fmt(account?.usedCents ?? Number.NaN)}`,
  );
}
