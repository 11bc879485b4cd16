import { AgentKey } from '@agentkey/core';
import { testCounter } from '@agentkey/test-support/counter.js';
import { openDb, STRESS_TIMEOUT_MS } from '@agentkey/test-support/db.js';
import { expect, it } from 'vitest';

it('the settles of one turn go to Redis in one script call, and every one lands in its mirror', async () => {
  const db = await openDb();
  const tc = testCounter(undefined, { trustMs: 60_000 });
  try {
    // The real scripts run; only how many times each is called is counted.
    const client = tc.redis as unknown as Record<string, (...args: string[]) => Promise<unknown>>;
    const calls = { one: 0, many: 0, settled: 0 };
    const settle = client.akSettle!.bind(client);
    const settleMany = client.akSettleMany!.bind(client);
    client.akSettle = (...args) => {
      calls.one++;
      calls.settled++;
      return settle(...args);
    };
    client.akSettleMany = (...args) => {
      calls.many++;
      calls.settled += Number(args[0]) / 7;
      return settleMany(...args);
    };
    const ak = new AgentKey({
      pool: db.pool,
      tableName: db.table,
      timeoutMs: STRESS_TIMEOUT_MS,
      counter: tc.counter,
    });
    await ak.migrate();
    const keys: Array<{ key: string; id: number }> = [];
    for (let k = 0; k < 10; k++)
      keys.push(await ak.create({ accountId: `acct_${k % 3}`, budgetCents: 1000 }));
    // Mirrors built and trusted: from here on every charge is reserved, then settled.
    for (const { key } of keys) for (let i = 0; i < 3; i++) await ak.authorize(key, { costCents: 1 });
    // The warm-up's last settle lands first (settles are sent on the next turn of the loop).
    await new Promise((r) => setTimeout(r, 50));
    const before = { ...calls };
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => ak.authorize(keys[i % 10]!.key, { costCents: 1 })),
    );
    expect(results.every((r) => r.ok)).toBe(true);
    const mirror = (id: number, account: string) =>
      tc.redis.hmget(`${tc.prefix}{${account}}:${db.table}:k:${id}`, 'used', 'inf');
    // Settles do not hold the answers up: wait until every reservation is committed.
    for (let tries = 0; tries < 200 && calls.settled - before.settled < 200; tries++)
      await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    expect(calls.settled - before.settled).toBe(200);
    expect(calls.many - before.many).toBeGreaterThan(0);
    expect(calls.one + calls.many - before.one - before.many).toBeLessThan(200);
    for (const [k, { id }] of keys.entries()) {
      const used = (await ak.getKey(id))!.budget.usedCents;
      expect(used).toBe(23);
      expect(await mirror(id, `acct_${k % 3}`)).toEqual([String(used * 10_000), '0']);
    }
  } finally {
    tc.close();
    await db.close();
  }
});
