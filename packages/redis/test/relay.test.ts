import { createHash, createHmac, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { AgentKey, AgentKeyInputError, type CounterRow, type Queryable } from '@agentkey/core';
import { type TestCounter, testCounter } from '@agentkey/test-support/counter.js';
import { openDb, type TestDb } from '@agentkey/test-support/db.js';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { redisCounter } from '../src/index.js';
import type { RedisRelay } from '../src/relay.js';

// Two stores in one test stand for two app processes: each has its own counter, ioredis client and
// relay (its own id and channel), on the shared Redis under one prefix, over one PostgreSQL table.
let db: TestDb;
const counters: TestCounter[] = [];
const stores: AgentKey[] = [];

beforeEach(async () => {
  db = await openDb();
});
afterEach(async () => {
  for (const ak of stores.splice(0)) await ak.close();
  for (const c of counters.splice(0)) c.close();
  await db.close();
});

type Handler = (row: string, charge: unknown) => Promise<CounterRow | undefined>;
/** A relay's insides a test reaches into: who it knows leads what, and what runs a served call. */
type Inside = { known: Map<string, { leader: string | null }>; handler: Handler | null };

interface Process {
  ak: AgentKey;
  relay: RedisRelay;
  inside: Inside;
}

/** Each store's deadline: a call whose leader took it and never answered is unavailable by then. */
const TIMEOUT_MS = 2000;

function processOf(prefix: string, secret: string, pool: Queryable = db.pool): Process {
  const tc = testCounter(undefined, { prefix, relay: { secret } });
  counters.push(tc);
  const ak = new AgentKey({ pool, tableName: db.table, timeoutMs: TIMEOUT_MS, counter: tc.counter });
  stores.push(ak);
  const relay = (ak as unknown as { ctx: { relay: RedisRelay } }).ctx.relay;
  return { ak, relay, inside: relay as unknown as Inside };
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** `leader` leads the key's row and `follower` knows it, as contention would have left them. */
async function led(leader: Process, follower: Process, key: string): Promise<string> {
  const row = `key:${createHash('sha256').update(key).digest('hex')}`;
  leader.relay.contended(row);
  await until('the leader to lead', () => leader.inside.known.get(row)?.leader === null);
  follower.relay.contended(row);
  await until('the follower to know the leader', () => follower.relay.leaderOf(row) === leader.relay.id);
  return row;
}

/** Counts the calls `p` serves for other processes. */
function counted(p: Process): { served: number } {
  const seen = { served: 0 };
  const handler = p.inside.handler!;
  p.inside.handler = (row, charge) => {
    seen.served++;
    return handler(row, charge);
  };
  return seen;
}

const claims = async (keyId: number) =>
  Number(
    (await db.pool.query(`SELECT count(*) AS n FROM ${db.table}_requests WHERE principal_id = $1`, [keyId]))
      .rows[0].n,
  );

describe('the relay (redisCounter relay option)', () => {
  it("a follower's charges are made by the process leading the key: each once, none past the cap", async () => {
    const prefix = `relay${randomBytes(4).toString('hex')}:`;
    const secret = randomBytes(24).toString('hex');
    const [a, b] = [processOf(prefix, secret), processOf(prefix, secret)];
    await a.ak.migrate();
    const { key, id } = await a.ak.create({ accountId: 'acct', budgetCents: 10 });
    await led(a, b, key);
    const seen = counted(a);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => b.ak.authorize(key, { costCents: 1 })),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    expect(results.filter((r) => !r.ok).map((r) => r.error?.code)).toEqual(Array(10).fill('budget_exceeded'));
    expect(seen.served, 'the leader made the follower’s charges').toBeGreaterThan(0);
    expect((await a.ak.getKey(id))?.budget.usedCents).toBe(10);
    expect(await claims(id), 'one claim per charge').toBe(10);
  });

  it('an answer not signed with the shared secret is no answer: an acknowledged call is always charged', async () => {
    const prefix = `relay${randomBytes(4).toString('hex')}:`;
    const secret = randomBytes(24).toString('hex');
    const [a, b] = [processOf(prefix, secret), processOf(prefix, secret)];
    await a.ak.migrate();
    const { key, id } = await a.ak.create({ accountId: 'acct', budgetCents: 10 });
    await led(a, b, key);
    // The leader takes the call and never answers; a forger answers every call it sees as passed.
    const forger = new Redis(`${process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'}`);
    const listener = forger.duplicate();
    await listener.psubscribe(`${prefix}*relay:*`);
    let forgeries = 0;
    listener.on('pmessage', (_p, _channel, message: string) => {
      const body = JSON.parse(message.slice(message.indexOf('.') + 1)) as {
        t: string;
        f: string;
        calls?: Array<{ n: number; c: { rid: string } }>;
      };
      if (body.t !== 'c' || !body.calls) return;
      const answers = body.calls.map((c) => ({ n: c.n, rid: c.c.rid, row: { outcome: 'ok' } }));
      const text = JSON.stringify({ v: 1, t: 'a', answers });
      const forged = `${createHmac('sha256', 'not the secret').update(text).digest('base64url')}.${text}`;
      forgeries++;
      void forger.publish(_channel.replace(/relay:[^:]+$/, `relay:${body.f}`), forged);
    });
    a.inside.handler = () => new Promise(() => {});
    try {
      const result = await b.ak.authorize(key, { costCents: 1 });
      expect(forgeries, 'the forger answered the call').toBeGreaterThan(0);
      // The leader said it received the call, then never answered: just before the deadline the
      // call goes to its retry, charged here if time is left. Passed only if charged.
      if (result.ok) expect(result.principal.id).toBe(id);
      else expect(result.error.code).toBe('unavailable');
      await b.ak.resolveInDoubt();
      expect((await a.ak.getKey(id))?.budget.usedCents).toBe(result.ok ? 1 : 0);
    } finally {
      listener.disconnect();
      forger.disconnect();
    }
  }, 15_000);

  it('a leader that has gone (nobody on its channel): the follower charges at once, itself', async () => {
    const prefix = `relay${randomBytes(4).toString('hex')}:`;
    const secret = randomBytes(24).toString('hex');
    const [a, b] = [processOf(prefix, secret), processOf(prefix, secret)];
    await a.ak.migrate();
    const { key, id } = await a.ak.create({ accountId: 'acct', budgetCents: 10 });
    const row = await led(a, b, key);
    const seen = counted(a);
    await a.ak.close();
    const result = await b.ak.authorize(key, { costCents: 1 });
    expect(result.ok).toBe(true);
    expect(seen.served).toBe(0);
    expect(b.relay.leaderOf(row), 'the gone leader is forgotten').toBeUndefined();
    expect((await b.ak.getKey(id))?.budget.usedCents).toBe(1);
  });

  it('a leader that charged but whose answer was lost: the call is unavailable at its deadline and then voided, never charged twice', async () => {
    const prefix = `relay${randomBytes(4).toString('hex')}:`;
    const secret = randomBytes(24).toString('hex');
    const [a, b] = [processOf(prefix, secret), processOf(prefix, secret)];
    await a.ak.migrate();
    const { key, id } = await a.ak.create({ accountId: 'acct', budgetCents: 10 });
    await led(a, b, key);
    const handler = a.inside.handler!;
    let calls = 0;
    // The first delivery is charged, then its answer never leaves; the retry runs for real.
    a.inside.handler = async (row, charge) => {
      calls++;
      const answer = await handler(row, charge);
      if (calls === 1) return new Promise(() => {});
      return answer;
    };
    const result = await b.ak.authorize(key, { costCents: 1 });
    expect(calls, 'the leader charged the call').toBe(1);
    expect(result.ok ? 'ok' : result.error.code).toBe('unavailable');
    expect(await b.ak.resolveInDoubt()).toBe(0);
    expect((await a.ak.getKey(id))?.budget.usedCents, 'the lost charge is voided').toBe(0);
  }, 15_000);

  it('a malformed call is refused by the leader, and the caller charges nothing through it', async () => {
    const prefix = `relay${randomBytes(4).toString('hex')}:`;
    const secret = randomBytes(24).toString('hex');
    const [a, b] = [processOf(prefix, secret), processOf(prefix, secret)];
    await a.ak.migrate();
    const { key, id } = await a.ak.create({ accountId: 'acct', budgetCents: 10 });
    const row = await led(a, b, key);
    const ttlMs = 1500;
    const bad = [
      { by: 'id', value: 'x', ttlMs },
      {
        by: 'key_hash',
        value: 'x',
        rid: 'not-a-uuid',
        nowMs: 1,
        ttlMs,
        micros: 1,
        scope: null,
        tokenGrants: true,
      },
    ];
    for (const charge of bad)
      await expect(b.relay.forward(a.relay.id, row, charge as never)).rejects.toThrow(/malformed/);
    expect((await a.ak.getKey(id))?.budget.usedCents).toBe(0);
  });

  it("a leader that cannot charge (its pool ended) loses its followers' calls to their retry, which passes here", async () => {
    const prefix = `relay${randomBytes(4).toString('hex')}:`;
    const secret = randomBytes(24).toString('hex');
    const aPool = db.newPool();
    const [a, b] = [processOf(prefix, secret, aPool), processOf(prefix, secret)];
    await a.ak.migrate();
    const { key, id } = await a.ak.create({ accountId: 'acct', budgetCents: 1000 });
    const row = await led(a, b, key);
    await aPool.end();
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await b.ak.authorize(key, { costCents: 1 }));
    expect(results.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual(Array(5).fill('ok'));
    expect(b.relay.leaderOf(row), 'a leader that failed a call gets none for a while').toBeUndefined();
    expect((await b.ak.getKey(id))?.budget.usedCents).toBe(5);
  });

  it('a slow leader (its row locked past the receipt wait) still answers, and the call passes once', async () => {
    const prefix = `relay${randomBytes(4).toString('hex')}:`;
    const secret = randomBytes(24).toString('hex');
    const [a, b] = [processOf(prefix, secret), processOf(prefix, secret)];
    await a.ak.migrate();
    const { key, id } = await a.ak.create({ accountId: 'acct', budgetCents: 10 });
    await led(a, b, key);
    const locker = db.newPool();
    try {
      const client = await locker.connect();
      await client.query('BEGIN');
      await client.query(`SELECT 1 FROM ${db.table} WHERE id = $1 FOR UPDATE`, [id]);
      const unlocked = new Promise<void>((resolve) =>
        setTimeout(() => void client.query('COMMIT').then(() => resolve()), 1300),
      );
      const result = await b.ak.authorize(key, { costCents: 1 });
      await unlocked;
      client.release();
      expect(result.ok ? 'ok' : result.error.code).toBe('ok');
      expect(await claims(id)).toBe(1);
    } finally {
      await locker.end();
    }
  });

  it('a closed store leads no more: it gives its lead up and never listens again', async () => {
    const prefix = `relay${randomBytes(4).toString('hex')}:`;
    const secret = randomBytes(24).toString('hex');
    const [a, b] = [processOf(prefix, secret), processOf(prefix, secret)];
    await a.ak.migrate();
    const { key, id } = await a.ak.create({ accountId: 'acct', budgetCents: 10 });
    const row = await led(a, b, key);
    await a.ak.close();
    a.relay.contended(row);
    await new Promise((r) => setTimeout(r, 100));
    expect((a.relay as unknown as { listening: boolean }).listening).toBe(false);
    const lead = await counters[0]!.redis.get(`${prefix}${db.table.replace(/:/g, '%3a')}:lead:${row}`);
    expect(lead, 'the lead key is gone').toBeNull();
    expect((await b.ak.authorize(key, { costCents: 1 })).ok).toBe(true);
    expect((await b.ak.getKey(id))?.budget.usedCents).toBe(1);
  });

  it('a genuine call message replayed through Redis is not run again, by its leader or by another process', async () => {
    const prefix = `relay${randomBytes(4).toString('hex')}:`;
    const secret = randomBytes(24).toString('hex');
    const [a, b, c] = [processOf(prefix, secret), processOf(prefix, secret), processOf(prefix, secret)];
    await a.ak.migrate();
    const { key } = await a.ak.create({ accountId: 'acct', budgetCents: 10 });
    await led(a, b, key);
    const seen = counted(a);
    const listener = counters[0]!.redis.duplicate();
    const captured: Array<[string, string]> = [];
    await listener.subscribe(`${prefix}${db.table.replace(/:/g, '%3a')}:relay:${a.relay.id}`);
    listener.on('message', (channel: string, message: string) => captured.push([channel, message]));
    try {
      expect((await b.ak.authorize(key, { costCents: 1 })).ok).toBe(true);
      expect(captured.length).toBeGreaterThan(0);
      await led(a, c, key);
      const other = counted(c);
      for (const [channel, message] of captured) {
        await counters[0]!.redis.publish(channel, message);
        await counters[0]!.redis.publish(channel.replace(a.relay.id, c.relay.id), message);
      }
      await new Promise((r) => setTimeout(r, 100));
      expect(seen.served).toBe(1);
      expect(other.served, 'a call message names its leader').toBe(0);
    } finally {
      listener.disconnect();
    }
  });

  it('each store has its own relay: two stores on one counter, and closing one leaves the other', async () => {
    const tc = testCounter(undefined, { relay: { secret: randomBytes(24).toString('hex') } });
    counters.push(tc);
    const [one, two] = [0, 1].map(() => {
      const ak = new AgentKey({ pool: db.pool, tableName: db.table, counter: tc.counter });
      stores.push(ak);
      return (ak as unknown as { ctx: { relay: RedisRelay } }).ctx.relay;
    });
    expect(one).not.toBe(two);
    expect(one!.id).not.toBe(two!.id);
    await stores.at(-2)!.close();
    expect((one as unknown as { closed: boolean }).closed).toBe(true);
    expect((two as unknown as { closed: boolean }).closed).toBe(false);
  });

  it('the secret is never printed: not by inspecting the store, nor its counter', () => {
    const secret = `secret-${randomBytes(24).toString('hex')}`;
    const p = processOf('relayinspect:', secret);
    const counter = counters.at(-1)!.counter;
    expect(inspect(p.ak, { depth: 10, showHidden: true })).not.toContain(secret);
    expect(inspect(counter, { depth: 10, showHidden: true })).not.toContain(secret);
    expect(JSON.stringify((counter as unknown as { options: unknown }).options)).not.toContain(secret);
  });

  it('the relay option is checked when the counter is made', () => {
    const redis = new Redis({ lazyConnect: true });
    try {
      for (const relay of [
        { secret: 'short' },
        { secret: 42 },
        'a secret of more than thirty-two characters',
        {},
      ]) {
        expect(() => redisCounter({ redis, relay: relay as never })).toThrow(AgentKeyInputError);
      }
      expect(redisCounter({ redis }).relay()).toBeNull();
      expect(
        redisCounter({ redis, relay: { secret: 's'.repeat(32) } })
          .bind('t')
          .relay(),
      ).not.toBeNull();
    } finally {
      redis.disconnect();
    }
  });
});
