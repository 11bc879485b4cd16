/**
 * The keys a start hands out. A secret is shown once and stored only as a hash, so a restart
 * cannot print the last run's key again: it mints a fresh demo key (the earlier ones keep their
 * budgets and keep working) and a fresh admin key (the earlier admin keys are revoked, so only the
 * one on screen can revoke).
 */

import type { AgentKey, CreateKeyOptions } from '@agentkey/core';

export const DEMO_ACCOUNT = 'demo';
export const ADMIN_ACCOUNT = 'gateway-admin';

export const DEMO_KEY: Omit<CreateKeyOptions, 'accountId'> = {
  scopes: ['chat'],
  budgetCents: 50,
  budgetPeriod: 'day',
  rateLimit: { requests: 10, windowSec: 60 },
};

export interface MintedKeys {
  demo: { id: number; key: string };
  admin: { id: number; key: string };
  /** Demo keys from earlier runs in this database (still live or not). */
  earlier: number;
}

export async function mintKeys(ak: AgentKey): Promise<MintedKeys> {
  const before = await ak.listKeys(DEMO_ACCOUNT);
  const demo = await ak.create({ ...DEMO_KEY, accountId: DEMO_ACCOUNT, name: `demo-${before.length + 1}` });
  for (const old of await ak.listKeys(ADMIN_ACCOUNT)) {
    if (!old.revokedAt) await ak.revoke(old.id, ADMIN_ACCOUNT, { actor: 'gateway start' });
  }
  const admin = await ak.create({ accountId: ADMIN_ACCOUNT, scopes: ['admin'], name: 'gateway admin' });
  return {
    demo: { id: demo.id, key: demo.key },
    admin: { id: admin.id, key: admin.key },
    earlier: before.length,
  };
}
