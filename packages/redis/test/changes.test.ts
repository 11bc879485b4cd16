import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { AgentKey, type Change, tokenCacheKey, VerificationCache, type Verifier } from '@agentkey/core';
import { openDb, type TestDb } from '@agentkey/test-support/db.js';
import { type PrivateRedis, startPrivateRedis } from '@agentkey/test-support/private-redis.js';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type RedisChanges, redisChanges } from '../src/index.js';

const poll = async (what: string, check: () => Promise<boolean> | boolean, ms = 5000) => {
  for (const end = Date.now() + ms; !(await check()); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('redisChanges', () => {
  let db: TestDb;
  const clients: Redis[] = [];
  const client = (url = inject('redisUrl')) => {
    const redis = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    redis.on('error', () => {});
    clients.push(redis);
    return redis;
  };
  const prefix = () => `test:${randomBytes(6).toString('hex')}:`;
  const feeds: RedisChanges[] = [];
  /** A feed closed after the file (its subscriber is a connection of its own). */
  const feedOn = (
    redis: Redis,
    options: {
      prefix: string;
      publishTimeoutMs?: number;
      onError?: (error: unknown, context: string) => void;
    },
  ) => {
    const feed = redisChanges({ redis, ...options });
    feeds.push(feed);
    return feed;
  };

  /** A feed on `redis` (closed after the file) under a prefix of its own: what it tells onError, what it hears. */
  const watched = (redis: Redis) => {
    redis.on('error', () => {});
    clients.push(redis);
    const p = prefix();
    const reported: string[] = [];
    const causes: string[] = [];
    const feed = feedOn(redis, {
      prefix: p,
      onError: (error, context) => {
        reported.push(context);
        causes.push((error as Error).message);
      },
    });
    const heard: Array<Change | null> = [];
    feed.subscribe((c) => heard.push(c));
    return { p, feed, reported, causes, heard };
  };

  beforeAll(async () => {
    db = await openDb();
    await new AgentKey({ pool: db.pool, tableName: db.table }).migrate();
  });
  afterAll(async () => {
    await Promise.all(feeds.map((f) => f.close()));
    for (const c of clients) c.disconnect();
    await db.close();
  });

  it('refuses bad options with an AgentKeyInputError naming the option', () => {
    const redis = client();
    const field = (f: () => unknown) => {
      try {
        f();
      } catch (error) {
        return (error as { name: string; field?: string }).name === 'AgentKeyInputError'
          ? (error as { field?: string }).field
          : 'not an input error';
      }
      return 'accepted';
    };
    expect(field(() => redisChanges({} as never))).toBe('redis');
    expect(field(() => redisChanges({ redis, prefix: 'a b' }))).toBe('prefix');
    expect(field(() => redisChanges({ redis, publishTimeoutMs: 0 }))).toBe('publishTimeoutMs');
    expect(field(() => redisChanges({ redis, publishTimeout: 10 } as never))).toBe('publishTimeout');
    expect(field(() => redisChanges({ redis, prefix: null } as never))).toBe('prefix');
    expect(field(() => new AgentKey({ pool: db.pool, changes: {} as never }))).toBe('changes');
    expect(field(() => new AgentKey({ pool: db.pool, changes: { publish() {} } as never }))).toBe('changes');
  });

  it("a scope change in one store reaches another store's cached descriptor at once (frozen clocks: only the feed can)", async () => {
    const p = prefix();
    const frozen = new Date();
    const store = (changes?: RedisChanges) =>
      new AgentKey({
        pool: db.newPool(),
        tableName: db.table,
        now: () => frozen,
        ...(changes ? { changes } : {}),
      });
    const admin = store(feedOn(client(), { prefix: p }));
    const feedB = feedOn(client(), { prefix: p });
    const b = store(feedB);
    const withoutFeed = store();
    const { key, id } = await admin.create({
      accountId: 'acct-feed',
      scopes: ['read', 'write'],
      budgetCents: 1000,
    });
    const scopesIn = async (ak: AgentKey) => {
      const r = await ak.authorize(key, { costCents: 1 });
      return r.principal?.scopes;
    };
    await poll('the subscriber', () => feedB.connected);
    // Each store now caches the row's descriptor, and its clock never lets it expire.
    expect(await scopesIn(b)).toEqual(['read', 'write']);
    expect(await scopesIn(withoutFeed)).toEqual(['read', 'write']);
    await admin.update(id, { scopes: ['read'] });
    await poll('the change to reach the other store', async () => (await scopesIn(b))?.length === 1);
    expect(await scopesIn(b)).toEqual(['read']);
    // Without the feed the same cache still shows the old list: what the feed fixed.
    expect(await scopesIn(withoutFeed)).toEqual(['read', 'write']);
    // Decisions never rest on the cache: the scope asked is refused by every store at once.
    const refused = await withoutFeed.authorize(key, { costCents: 1, scope: 'write' });
    expect(refused.ok ? 'ok' : refused.error.code).toBe('insufficient_scope');
    await feedB.close();
  });

  it("a subject's row changed in one store: another store's gate verifiers forget that subject's cached answers, and only that subject's", async () => {
    const p = prefix();
    const admin = new AgentKey({
      pool: db.pool,
      tableName: db.table,
      changes: feedOn(client(), { prefix: p }),
    });
    const feed = feedOn(client(), { prefix: p });
    const other = new AgentKey({ pool: db.newPool(), tableName: db.table, changes: feed });
    // A verifier plugin caching its answers as the built-in ones do.
    const cache = new VerificationCache(100);
    const forgotten: Array<string | null> = [];
    const verifier: Verifier = {
      id: 'ext',
      accepts: (token) => token.startsWith('tok_'),
      verify: async (token) => {
        const result = {
          ok: true as const,
          identity: { subject: `ext|${token.slice(4)}`, scopes: null, expiresAt: null, claims: {} },
        };
        cache.set(tokenCacheKey(token), result, Date.now() + 60_000, Date.now());
        return result;
      },
      forget: (subject) => {
        forgotten.push(subject);
        cache.forget(subject);
      },
    };
    const gate = other.gate({ verifiers: [verifier] });
    for (const who of ['changed', 'kept']) await admin.ensureSubject(`ext|${who}`, { budgetCents: 100 });
    for (const who of ['changed', 'kept']) expect((await gate.authenticate(`tok_${who}`)).ok).toBe(true);
    await poll('the subscriber', () => feed.connected);
    await admin.revokeSubject('ext|changed');
    await poll('the gate to forget the subject', () => forgotten.includes('ext|changed'));
    expect(cache.get(tokenCacheKey('tok_changed'), Date.now())).toBeUndefined();
    expect(cache.get(tokenCacheKey('tok_kept'), Date.now())).toBeDefined();
    const refused = await gate.authenticate('tok_changed');
    expect(refused.ok ? 'ok' : refused.error.code).toBe('invalid_token');
    await feed.close();
  });

  it('a store nobody holds any more is collected, and its subscription ends at the next change', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const p = prefix();
    const feed = feedOn(client(), { prefix: p });
    // The real feed, wrapped to count the subscriptions the stores hold (as recordingPool counts statements).
    let live = 0;
    const counted = {
      publish: (change: Change) => feed.publish(change),
      subscribe: (listener: (change: Change | null) => void) => {
        live++;
        const stop = feed.subscribe(listener);
        return () => {
          live--;
          stop();
        };
      },
    };
    const kept = new AgentKey({ pool: db.pool, tableName: db.table, changes: counted });
    (() => new AgentKey({ pool: db.pool, tableName: db.table, changes: counted }))();
    expect(live).toBe(2);
    await poll('the subscriber', () => feed.connected);
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
    }
    const { id } = await kept.create({ accountId: 'acct-gc' });
    await kept.revoke(id);
    await poll('the collected store to unsubscribe', () => live === 1);
  });

  it('subscribes on a client made as the README advises (enableOfflineQueue: false) and hears a change', async () => {
    // Such a client refuses a command sent before its connection is up: the feed's subscriber
    // must connect first, or it never subscribes.
    const { p, feed, reported, heard } = watched(
      new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1, enableOfflineQueue: false }),
    );
    await poll('the subscriber', () => feed.connected);
    const change: Change = { table: 'x', what: 'update', target: { keyId: 3 } };
    await feedOn(client(), { prefix: p }).publish(change);
    await poll('the change', () => heard.length > 0);
    expect(heard).toEqual([change]);
    expect(reported).toEqual([]);
  });

  it('a server that accepts the connection and never answers: the connect is given up, reported, and tried again', async () => {
    // A Cluster's connect() can hang the same way (ioredis): the feed must not wait on it for ever.
    let connections = 0;
    const silent = createServer(() => {
      connections++;
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    const { feed, reported, causes } = watched(
      new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 }),
    );
    try {
      await poll('the connect to be given up', () => reported.length > 0, 15_000);
      expect(causes[0]).toMatch(/no connection within 10000 ms/);
      expect(feed.connected).toBe(false);
      await poll('a second attempt', () => connections >= 2);
    } finally {
      await feed.close();
      silent.close();
      silent.unref();
    }
  }, 20_000);

  describe('on a private redis-server', () => {
    let server: PrivateRedis;
    beforeAll(async () => {
      server = await startPrivateRedis();
    });
    afterAll(() => server.destroy());

    it('after its subscriber is cut it reconnects, tells listeners it may have missed changes (null), and hears new ones', async () => {
      const p = prefix();
      const feed = feedOn(client(server.url), { prefix: p });
      const heard: Array<Change | null> = [];
      feed.subscribe((c) => heard.push(c));
      await poll('the subscriber', () => feed.connected);
      const killed = await server.admin().call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      expect(Number(killed)).toBeGreaterThan(0);
      await poll('the reconnect', () => heard.includes(null));
      expect(feed.connected).toBe(true);
      const change: Change = { table: 'x', what: 'revoke', target: { keyId: 7 } };
      const publisher = feedOn(client(server.url), { prefix: p });
      await publisher.publish(change);
      await poll('the change after the reconnect', () => heard.some((c) => c?.target && 'keyId' in c.target));
      expect(heard).toEqual([null, change]);
      await feed.close();
    });

    it('a publication that cannot be sent is given up by its deadline and reported; the revocation itself is not held up', async () => {
      const redis = new Redis(server.url, { maxRetriesPerRequest: null, retryStrategy: () => 50 });
      redis.on('error', () => {});
      clients.push(redis);
      const reported: string[] = [];
      const ak = new AgentKey({
        pool: db.pool,
        tableName: db.table,
        changes: feedOn(redis, { prefix: prefix(), publishTimeoutMs: 200, onError: () => {} }),
        onError: (_error, context) => reported.push(context),
      });
      const { id, key } = await ak.create({ accountId: 'acct-lost', budgetCents: 100 });
      server.freeze();
      try {
        expect(await ak.revoke(id)).toBe(true);
        const after = await ak.authorize(key, { costCents: 1 });
        expect(after.ok ? 'ok' : after.error.code).toBe('invalid_token');
        await poll('the give-up to be reported', () => reported.length > 0, 3000);
        expect(reported).toEqual(['agentkey changes: publish failed']);
      } finally {
        server.thaw();
      }
    });
    it('Redis down when the feed starts: the failure is reported once, the feed subscribes when Redis is back, and tells listeners it may have missed changes (null)', async () => {
      await server.kill();
      let back = false;
      try {
        const { p, feed, reported, heard } = watched(
          new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 50 }),
        );
        await poll('the failed subscription to be reported', () => reported.length > 0);
        expect(reported[0]).toMatch(/could not subscribe to .*changes/);
        expect(feed.connected).toBe(false);
        // Several attempts fail meanwhile; they are told once, not once each.
        await new Promise((r) => setTimeout(r, 800));
        expect(reported).toHaveLength(1);
        await server.start();
        back = true;
        await poll('the subscriber once Redis is back', () => feed.connected, 10_000);
        expect(heard).toEqual([null]);
        const change: Change = { table: 'x', what: 'revoke', target: { keyId: 9 } };
        await feedOn(client(server.url), { prefix: p }).publish(change);
        await poll('a change after the subscription', () => heard.length > 1);
        expect(heard).toEqual([null, change]);
      } finally {
        if (!back) await server.start();
      }
    });
  });
});
