import { AgentKey } from '@agentkey/core';
import { redisCounter } from '@agentkey/redis';
import { recordingPool } from '@agentkey/test-support/counter.js';
import { openDb, type TestDb } from '@agentkey/test-support/db.js';
import { type PrivateCluster, startPrivateCluster } from '@agentkey/test-support/private-redis.js';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let cluster: PrivateCluster;
let client: Cluster;
let db: TestDb;

beforeAll(async () => {
  cluster = await startPrivateCluster();
  client = new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
  client.on('error', () => {});
  db = await openDb();
});
afterAll(async () => {
  client.disconnect();
  await db.close();
  await cluster.destroy();
});

describe('redisCounter on an ioredis Cluster (three private nodes)', () => {
  it('the relay is off on a Cluster, whose PUBLISH cannot tell that nobody listened', () => {
    const counter = redisCounter({ redis: client, relay: { secret: 's'.repeat(32) } });
    expect(counter.bind('t').relay()).toBeNull();
  });

  it('each account’s keys, pool parent and ceiling meet in one slot: refusals cost no statement, caps hold', async () => {
    const pool = recordingPool(db.pool);
    const ak = new AgentKey({
      pool,
      tableName: db.table,
      timeoutMs: 10_000,
      counter: redisCounter({ redis: client, timeoutMs: 5000, trustMs: 60_000 }),
    });
    await ak.migrate();
    // Accounts spread over the slots (and so over the nodes): each script still sees its account whole.
    const accounts = ['acct-a', 'acct-b', 'acct-c', 'acct-d', 'acct-{e}'];
    const node = client.nodes('master')[0]!;
    const slotOf = async (key: string) => Number(await node.call('CLUSTER', 'KEYSLOT', key));
    const slots = new Set(
      await Promise.all(accounts.map((a) => slotOf(`agentkey:{${a.replace(/[{}]/g, '')}}:a`))),
    );
    expect(slots.size).toBeGreaterThan(2);
    for (const account of accounts) {
      await ak.setAccountBudget(account, { budgetCents: 20 });
      const parent = await ak.create({ accountId: account, budgetCents: 15 });
      const child = await ak.create({ accountId: account, budgetCents: 100, poolParentId: parent.id });
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => ak.authorize(i % 2 ? child.key : parent.key, { costCents: 1 })),
      );
      expect(results.filter((r) => r.ok).length).toBe(15);
      for (let i = 0; i < 3; i++) await ak.authorize(child.key, { costCents: 1 });
      const before = pool.statements;
      const refused = await ak.authorize(child.key, { costCents: 1 });
      expect(pool.statements - before).toBe(0);
      expect(refused.ok === false && refused.error.code).toBe('budget_exceeded');
      expect((await ak.getAccount(account))?.usedCents).toBe(15);
    }
  });

  it('settles of several accounts in one turn go per slot: every one lands, refusals still cost no statement', async () => {
    const pool = recordingPool(db.pool);
    const ak = new AgentKey({
      pool,
      tableName: db.table,
      timeoutMs: 10_000,
      counter: redisCounter({ redis: client, prefix: 'many:', timeoutMs: 5000, trustMs: 60_000 }),
    });
    const accounts = ['many-a', 'many-b', 'many-c', 'many-d', 'many-e'];
    const keys = await Promise.all(accounts.map((accountId) => ak.create({ accountId, budgetCents: 12 })));
    for (const { key } of keys) for (let i = 0; i < 2; i++) await ak.authorize(key, { costCents: 1 });
    // Every account's charges in the same turns: one settle batch would mix slots (CROSSSLOT).
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => ak.authorize(keys[i % 5]!.key, { costCents: 1 })),
    );
    expect(results.filter((r) => r.ok).length).toBe(50);
    for (const [i, { key, id }] of keys.entries()) {
      expect((await ak.getKey(id))?.budget.usedCents).toBe(12);
      await ak.authorize(key, { costCents: 1 });
      const before = pool.statements;
      const refused = await ak.authorize(key, { costCents: 1 });
      expect(pool.statements - before).toBe(0);
      expect(refused.ok === false && refused.error.code).toBe('budget_exceeded');
      const mirror = await client.hmget(`many:{${accounts[i]}}:${db.table}:k:${id}`, 'used', 'inf');
      expect(mirror).toEqual([String(12 * 10_000), '0']);
    }
  });
});
