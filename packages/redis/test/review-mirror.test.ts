import { AgentKey } from '@agentkey/core';
import { type TestCounter, testCounter } from '@agentkey/test-support/counter.js';
import { openDb, STRESS_TIMEOUT_MS, type TestDb } from '@agentkey/test-support/db.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

/**
 * Review (adversarial): refusals a Redis mirror answers that PostgreSQL would not give, in one
 * process. Each describe attacks one thing:
 *
 * - A replay in flight: an idempotent repeat skips the mirror's budget check (only PostgreSQL can
 *   tell a replay) but still reserves its whole amount as in flight. While that replay waits on
 *   PostgreSQL, a new call on the same key is refused from the mirror by the replay's
 *   reservation, a refusal PostgreSQL never gives in any order: the replay charges nothing.
 * - A pool parent rebuilt as a pool keeps its own key fields (scopes, expiry, revocation,
 *   principal) from its own last build, but takes the current generation, a new build time and a
 *   new lease. After an update of the parent (which bumps the generation), any child's call
 *   re-trusts the parent's OLD key fields, lease after lease while a child stays busy: the
 *   parent's own calls are refused from Redis, so they never rebuild its key fields.
 * - An account's generation is a plain counter key (INCR, a one-day TTL). When Redis loses that
 *   one key (evicted under maxmemory: a volatile-* policy may pick it, it has a TTL; or expired),
 *   the generation restarts at 0 and the next INCR hands out 1 again: a mirror built at
 *   generation 1, made stale by the change that took it to 2, is trusted again. The loss is
 *   simulated with DEL of that key under this test's own prefix; DESIGN guarantee 1 names
 *   "loses its data".
 */
let db: TestDb;
let counters: TestCounter[];

beforeEach(async () => {
  db = await openDb();
  counters = [];
});

afterEach(async () => {
  for (const c of counters) c.close();
  await db.close();
});

/** A migrated store with its own counter, trusting a mirror for `trustMs`. */
async function storeWith(trustMs: number) {
  const tc = testCounter(undefined, { trustMs });
  counters.push(tc);
  const ak = new AgentKey({
    pool: db.newPool(),
    tableName: db.table,
    timeoutMs: STRESS_TIMEOUT_MS,
    counter: tc.counter,
  });
  await ak.migrate();
  return { tc, ak };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The pool-parent attack's lease: three of them pass while a child stays busy. */
const TRUST_MS = 300;

describe('review: a replay in flight and the mirror', () => {
  it('a replay of an idempotency key in flight never makes the mirror refuse a call that fits', async () => {
    const { tc, ak } = await storeWith(60_000);
    const { key, id } = await ak.create({ accountId: 'acct', budgetCents: 10 });
    for (let i = 0; i < 3; i++) await ak.authorize(key);
    expect((await ak.authorize(key, { costCents: 5, idempotencyKey: 'job-1' })).ok).toBe(true);
    for (let i = 0; i < 3; i++) await ak.authorize(key);
    // A slow writer holds the key's row: the client's retry of job-1 waits in PostgreSQL.
    const session = await db.newPool().connect();
    let fresh: Awaited<ReturnType<AgentKey['authorize']>> | undefined;
    let replay: Awaited<ReturnType<AgentKey['authorize']>> | undefined;
    try {
      await session.query('BEGIN');
      await session.query(`SELECT 1 FROM ${db.table} WHERE id = $1 FOR UPDATE`, [id]);
      const retry = ak.authorize(key, { costCents: 5, idempotencyKey: 'job-1' });
      const inflight = `${tc.prefix}{acct}:kf:${id}`;
      for (let i = 0; i < 200 && (await tc.redis.zcard(inflight)) === 0; i++) await pause(10);
      // A new call of 5 ¢: 5 used + 5 = 10 fits the 10 ¢ cap whatever the replay does.
      const call = ak.authorize(key, { costCents: 5 });
      await pause(300);
      await session.query('COMMIT');
      [replay, fresh] = await Promise.all([retry, call]);
    } finally {
      session.release();
    }
    expect(replay.ok && replay.replayed).toBe(true);
    expect(fresh.ok === false ? fresh.error.code : 'ok').toBe('ok');
    expect((await ak.getKey(id))?.budget.usedCents).toBe(10);
  });
});

describe('review: a pool parent rebuilt as a pool', () => {
  it("an update of the parent's scopes is obeyed by the parent's own calls while its children are busy", async () => {
    const { ak } = await storeWith(TRUST_MS);
    const parent = await ak.create({ accountId: 'acct', budgetCents: 1000, scopes: ['read'] });
    const child = await ak.create({ accountId: 'acct', budgetCents: 1000, poolParentId: parent.id });
    for (let i = 0; i < 3; i++) {
      await ak.authorize(parent.key, { scope: 'read', costCents: 1 });
      await ak.authorize(child.key, { costCents: 1 });
    }
    expect(await ak.update(parent.id, { scopes: ['read', 'write'] })).toBeTruthy();
    const answers: string[] = [];
    // Three leases' worth of time, a child call now and then, and the parent asking for 'write'.
    for (let round = 0; round < 3; round++) {
      await ak.authorize(child.key, { costCents: 1 });
      await pause(100);
      const r = await ak.authorize(parent.key, { scope: 'write', costCents: 1 });
      answers.push(r.ok ? 'ok' : r.error.code);
      await pause(TRUST_MS);
    }
    expect(answers).toEqual(['ok', 'ok', 'ok']);
  });
});

describe("review: an account's generation key lost", () => {
  it('a mirror made stale by a topUp is never trusted again when the generation key is lost', async () => {
    const { tc, ak } = await storeWith(60_000);
    const other = await ak.create({ accountId: 'acct', budgetCents: 100 });
    const { key, id } = await ak.create({ accountId: 'acct', budgetCents: 5 });
    for (let i = 0; i < 3; i++) await ak.authorize(other.key);
    // Generation 1.
    expect(await ak.update(other.id, { name: 'renamed' })).toBeTruthy();
    const generation = `${tc.prefix}{acct}:g`;
    expect(await tc.redis.get(generation)).toBe('1');
    // The key's mirror, built at generation 1, spent and refusing.
    for (let i = 0; i < 3; i++) await ak.authorize(key);
    expect((await ak.authorize(key, { costCents: 5 })).ok).toBe(true);
    for (let i = 0; i < 3; i++) expect((await ak.authorize(key, { costCents: 1 })).ok).toBe(false);
    // The top-up takes the generation to 2: that mirror is stale.
    expect(await ak.topUp({ keyId: id }, 10)).toBe(true);
    expect(await tc.redis.get(generation)).toBe('2');
    // Redis loses the generation key; a later admin change on the account counts from 0 again.
    await tc.redis.del(generation);
    expect(await ak.update(other.id, { name: 'renamed again' })).toBeTruthy();
    const answer = await ak.authorize(key, { costCents: 1 });
    expect(answer.ok === false ? answer.error.code : 'ok').toBe('ok');
  });
});
