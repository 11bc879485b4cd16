import { AgentKey } from '@agentkey/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { databaseUrl, openDb, type TestDb } from '../support/db.js';
import { acknowledged, checkInvariants } from '../support/invariants.js';
import { hammer, hotAccount } from '../support/load.js';
import { spawnWorkers, until, type Worker } from '../support/procs.js';

/** The caps (cents): each is reached during the run, none is ever passed. */
const CAPS = { key: 100, pool: 80, account: 260 };

let db: TestDb;
let ak: AgentKey;
let workers: Worker[] = [];

beforeAll(async () => {
  db = await openDb();
  ak = new AgentKey({ pool: db.pool, tableName: db.table });
  await ak.migrate();
});
afterAll(async () => {
  await Promise.all(workers.map((w) => w.close()));
  await db?.close();
});

it('kill -9 of a worker mid-batch (3 processes on one key, a pool and one account, PostgreSQL only): no cap passed, every acknowledged charge kept, none twice', async () => {
  const { targets, caps } = await hotAccount(ak, 'acct-kill9', CAPS);
  workers = await spawnWorkers(3, 'kill9', { url: databaseUrl(), table: db.table, timeoutMs: 10_000 });
  const acks = acknowledged();
  const load = hammer(workers, targets, acks, { name: 'kill9', loops: 6 });
  await until('100 acknowledged answers', () => (load.counts.ok ?? 0) >= 100);
  // Mid-batch: its loops always have calls in flight, which now are never acknowledged.
  await workers[0]!.kill9();
  await until(
    'the account to be spent',
    async () => (await ak.getAccount('acct-kill9'))!.remainingCents! < 3,
  );
  const counts = await load.stop();
  for (const w of workers.slice(1)) expect(await w.drain()).toEqual({ pending: 0 });

  expect(counts.died, 'calls were in flight when the worker died').toBeGreaterThan(0);
  expect(counts.budget_exceeded, 'the caps were reached').toBeGreaterThan(0);
  const figures = await checkInvariants(db.pool, db.table, acks, caps);
  // The checker has teeth: a cap one cent lower than the account reached, or a charge acknowledged
  // that PostgreSQL never saw, fails it.
  await expect(
    checkInvariants(db.pool, db.table, acks, {
      keys: [],
      accounts: [{ accountId: 'acct-kill9', capCents: CAPS.account - 1 }],
    }),
  ).rejects.toThrow();
  const roomy = targets[1]!.id;
  const phantom = {
    ...acks,
    keyed: new Map([...acks.keyed, ['never-sent', { principal: roomy, cents: 1 }]]),
  };
  await expect(
    checkInvariants(db.pool, db.table, phantom, { keys: [{ id: roomy, capCents: 100_000 }] }),
  ).rejects.toThrow('acknowledged keys charged exactly once');
  console.log(`kill -9 mid-batch: ${JSON.stringify(counts)}; peaks ${figures.peaks.join(', ')}`);
}, 60_000);
