import { AgentKey } from '@agentkey/core';
import { redisChanges } from '@agentkey/redis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IdpStandIn, startIdp } from '../../packages/oidc/test/support/idp-server.js';
import { makeKey, mint, type TestKey } from '../../packages/oidc/test/support/keys.js';
import { databaseUrl, openDb, type TestDb } from '../support/db.js';
import { type PrivateRedis, startPrivateRedis } from '../support/private-redis.js';
import { type Command, spawnWorkers, until, type Worker } from '../support/procs.js';

/** Guarantee 5: every other process refuses within 1 s, whatever it cached. */
const BOUND_MS = 1000;
/** The workers' descriptor cache bound (≤ 1 s); the rest of the second covers one poll's call. */
const DESCRIPTOR_TTL_MS = 900;
/** The verifiers' answer cache: ten times the bound, as Clerk's opaque-token cache may be. */
const VERIFIER_TTL_MS = 10_000;
const AUD = 'https://api.invalidation.test';

type Watch = Omit<Extract<Command, { op: 'watch' }>, 'op'>;

/**
 * Guarantee 5 across separate processes: three app processes, each with its own AgentKey, pool,
 * gate (an OIDC verifier caching answers for 10 s) and `redisChanges` subscriber on a private
 * redis-server; the test process makes each change. Time to refusal is measured per process from
 * just before the change to the start of the first call that saw it.
 */
describe('invalidation across processes (private redis-server)', () => {
  let db: TestDb;
  let server: PrivateRedis;
  let idp: IdpStandIn;
  let signing: TestKey;
  let publisher: Redis;
  let ak: AgentKey;
  let workers: Worker[] = [];
  const reported: string[] = [];
  const figures: string[] = [];

  beforeAll(async () => {
    db = await openDb();
    [server, idp, signing] = await Promise.all([startPrivateRedis(), startIdp(), makeKey('inval')]);
    idp.keys = [signing.jwk];
    const prefix = 'inval:';
    publisher = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    publisher.on('error', () => {});
    ak = new AgentKey({
      pool: db.pool,
      tableName: db.table,
      changes: redisChanges({ redis: publisher, prefix }),
      onError: (_e, context) => reported.push(context),
    });
    await ak.migrate();
    workers = await spawnWorkers(3, 'inval', {
      url: databaseUrl(),
      table: db.table,
      timeoutMs: 10_000,
      descriptorTtlMs: DESCRIPTOR_TTL_MS,
      redis: { url: server.url, prefix },
      oidc: { issuer: idp.origin, jwksUri: idp.jwksUri, audience: AUD, cacheTtlMs: VERIFIER_TTL_MS },
    });
    await subscribed();
  }, 60_000);
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.close()));
    publisher?.disconnect();
    await Promise.all([server?.destroy(), idp?.close()]);
    await db?.close();
    if (figures.length) console.log(`time to refusal, per process (ms):\n${figures.join('\n')}`);
  });

  /**
   * Every worker hears a change published now: their subscribers are up. A subscriber still
   * connecting misses a publication, so a fresh one goes out each half second until all heard one.
   */
  async function subscribed() {
    const before = await Promise.all(workers.map((w) => w.stats()));
    const heard = async () =>
      (await Promise.all(workers.map((w) => w.stats()))).every(
        (s, i) => s.changesSeen > before[i]!.changesSeen,
      );
    for (let attempt = 0; attempt < 40; attempt++) {
      const probe = await ak.create({ accountId: 'acct-probe' });
      await ak.revoke(probe.id);
      for (const end = Date.now() + 500; Date.now() < end; ) {
        if (await heard()) return;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    throw new Error('not every subscriber heard a change within 20 s');
  }

  /** Each worker calls twice (caching what it can), then `change` runs; ms until each saw it. */
  async function timeToAll(name: string, change: () => Promise<unknown>, watch: Watch, code: string | null) {
    const warm: Watch = { ...watch, until: 'refused' };
    for (const w of workers) {
      for (let i = 0; i < 2; i++) {
        const a = await w.call(
          warm.token ? { op: 'gate', token: warm.token } : { op: 'charge', key: warm.key!, cents: 0.01 },
        );
        expect(a.ok, `${name}: ${w.name} passes before the change`).toBe(true);
      }
    }
    const start = Date.now();
    await change();
    const seen = await Promise.all(workers.map((w) => w.watch(watch)));
    const ms = seen.map((s) => Math.max(0, s.at - start));
    figures.push(`${name}: ${ms.join(', ')}`);
    expect(seen.map((s) => s.code)).toEqual(workers.map(() => code));
    expect(Math.max(...ms), `${name}: every process within ${BOUND_MS} ms`).toBeLessThanOrEqual(BOUND_MS);
    return ms;
  }

  const newKey = (scopes = ['read', 'write']) =>
    ak.create({ accountId: 'acct-inval', scopes, budgetCents: 100_000 });

  it('a revoked key is refused by every process within 1 s, and the publication reached every process', async () => {
    const before = await Promise.all(workers.map((w) => w.stats()));
    const { key, id } = await newKey();
    await timeToAll('revoke (feed up)', () => ak.revoke(id), { key, until: 'refused' }, 'invalid_token');
    const after = await Promise.all(workers.map((w) => w.stats()));
    expect(after.every((s, i) => s.changesSeen > before[i]!.changesSeen)).toBe(true);
  });

  it('a narrowed scope is refused by every process within 1 s, and no process reports the old scopes past it', async () => {
    const { key, id } = await newKey();
    await timeToAll(
      'narrowed scope asked (feed up)',
      () => ak.update(id, { scopes: ['read'] }),
      { key, scope: 'write', until: 'refused' },
      'insufficient_scope',
    );
    const other = await newKey();
    const reportedMs = await timeToAll(
      'narrowed scopes reported (feed up)',
      () => ak.update(other.id, { scopes: ['read'] }),
      { key: other.key, until: { scopes: ['read'] } },
      null,
    );
    // Dropped at once, not left to expire: each cache was filled just before the change, so by
    // itself it would have kept the old list for most of DESCRIPTOR_TTL_MS.
    expect(Math.max(...reportedMs)).toBeLessThan(DESCRIPTOR_TTL_MS / 2);
  });

  it('an external subject whose token answer is cached 10 s: revoked or narrowed, refused by every process within 1 s', async () => {
    const subject = async (sub: string) => {
      await ak.ensureSubject(`${idp.origin}|${sub}`, {
        scopes: ['read', 'write'],
        budgetCents: 100_000,
        accountId: 'acct-inval',
      });
      return mint(signing, { iss: idp.origin, aud: AUD, sub });
    };
    const revoked = await subject('agent-revoked');
    await timeToAll(
      'subject revoked (feed up)',
      () => ak.revokeSubject(`${idp.origin}|agent-revoked`),
      { token: revoked, until: 'refused' },
      'invalid_token',
    );
    const narrowed = await subject('agent-narrowed');
    await timeToAll(
      'subject narrowed (feed up)',
      () => ak.updateSubject(`${idp.origin}|agent-narrowed`, { scopes: ['read'] }),
      { token: narrowed, until: { scopes: ['read'] } },
      null,
    );
  });

  it('with every subscriber cut (CLIENT KILL) as the change is made: within the bound, and they reconnect', async () => {
    const { key, id } = await newKey();
    await timeToAll(
      'subscribers cut',
      async () => {
        // The workers' subscribers and this process's own.
        expect(Number(await server.admin().call('CLIENT', 'KILL', 'TYPE', 'pubsub'))).toBe(
          workers.length + 1,
        );
        await ak.update(id, { scopes: ['read'] });
      },
      { key, until: { scopes: ['read'] } },
      null,
    );
    await subscribed();
  });

  it('a lost publication (Redis paused: nothing is sent or heard) does not extend the bound', async () => {
    const { key, id } = await newKey();
    const lost = reported.length;
    try {
      await timeToAll(
        'publication lost',
        async () => {
          server.freeze();
          await ak.update(id, { scopes: ['read'] });
        },
        { key, until: { scopes: ['read'] } },
        null,
      );
      await until('the lost publication to be reported', () => reported.length > lost, 5000);
    } finally {
      server.thaw();
    }
    await subscribed();
  });

  it('with the subscriber disconnected (redis-server killed): within the bound, and back once it restarts', async () => {
    const { key, id } = await newKey();
    await server.kill();
    try {
      await timeToAll('server down', () => ak.revoke(id), { key, until: 'refused' }, 'invalid_token');
      const other = await newKey();
      await timeToAll(
        'server down, scopes',
        () => ak.update(other.id, { scopes: ['read'] }),
        { key: other.key, until: { scopes: ['read'] } },
        null,
      );
    } finally {
      await server.start();
    }
    await subscribed();
  });
});
