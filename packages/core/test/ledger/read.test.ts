import { type AgentKey, AgentKeyInputError } from '@agentkey/core';
import { BACKENDS, manualClock, openStore, type TestDb } from '@agentkey/test-support/db.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** The operators' reads (ledger/read.ts, sql/reads.ts, keys/read.ts listSubjects): what the CLI shows. */
describe.each(BACKENDS)('listHolds, ledger and listSubjects (%s)', (backend) => {
  let db: TestDb;
  let ak: AgentKey;
  const clock = manualClock(new Date('2026-06-01T12:00:00Z'));
  beforeAll(async () => {
    ({ db, ak } = await openStore(backend, { now: clock.now }));
  });
  afterAll(() => db.close());

  it('lists open holds of an account and of a key, and drops settled and expired ones', async () => {
    const { key, id } = await ak.create({ accountId: 'holds', budgetCents: 1000 });
    const { key: other } = await ak.create({ accountId: 'holds-other', budgetCents: 1000 });
    const a = await ak.reserve(key, { maxCents: 30, ttl: '15m' });
    const b = await ak.reserve(key, { maxCents: 5, ttl: '1m' });
    await ak.reserve(other, { maxCents: 7 });
    if (!a.ok || !b.ok) throw new Error('reserve refused');
    expect((await ak.listHolds({ accountId: 'holds' })).map((h) => [h.id, h.keyId, h.amountCents])).toEqual([
      [a.hold!.id, id, 30],
      [b.hold!.id, id, 5],
    ]);
    expect((await ak.listHolds({ keyId: id })).length).toBe(2);
    await ak.settle(a.hold!.id, { costCents: 10 });
    clock.advance(2 * 60_000); // b's TTL passed: it no longer counts
    expect(await ak.listHolds({ accountId: 'holds' })).toEqual([]);
    expect((await ak.listHolds()).map((h) => h.amountCents)).toEqual([7]);
  });

  it('tails the ledger: the newest entries oldest first, then only what came after a given id', async () => {
    const { key, id } = await ak.create({ accountId: 'tail', budgetCents: 1000 });
    await ak.authorize(key, { costCents: 1.5 });
    await ak.authorize(key, { costCents: 2 });
    const last = await ak.ledger({ accountId: 'tail', limit: 2 });
    expect(last.map((e) => [e.kind, e.amountCents, e.keyId])).toEqual([
      ['charge', 1.5, id],
      ['charge', 2, id],
    ]);
    expect(Number(last[1]!.id)).toBeGreaterThan(Number(last[0]!.id));
    expect(await ak.ledger({ afterId: last[1]!.id })).toEqual([]);
    await ak.authorize(key, { costCents: 3 });
    const after = await ak.ledger({ afterId: last[1]!.id });
    expect(after.map((e) => [e.kind, e.amountCents, e.accountId])).toEqual([['charge', 3, 'tail']]);
    expect(after[0]!.at).toBeInstanceOf(Date);
  });

  it('orders by the id as a number: past 9 entries the newest are still last, and a tail still in order', async () => {
    // The id goes out as text; sorted as text, entry 10 came before 9 and the "newest" were 7, 8, 9.
    const { key } = await ak.create({ accountId: 'many', budgetCents: 1000 });
    for (let i = 1; i <= 12; i++) expect((await ak.authorize(key, { costCents: i })).ok).toBe(true);
    const all = await ak.ledger({ accountId: 'many', limit: 100 });
    const ids = all.map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    // The key's creation is an entry too (admin:create, 0 ¢), the first.
    expect(all.map((e) => e.amountCents)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect((await ak.ledger({ accountId: 'many', limit: 3 })).map((e) => e.amountCents)).toEqual([
      10, 11, 12,
    ]);
    const tail = await ak.ledger({ accountId: 'many', afterId: all[8]!.id, limit: 3 });
    expect(tail.map((e) => e.amountCents)).toEqual([9, 10, 11]);
  });

  it('lists external subjects, of one account or all, never native keys', async () => {
    await ak.ensureSubject('idp|s1', { accountId: 'subj' });
    await ak.ensureSubject('idp|s2', { accountId: 'subj-2' });
    await ak.create({ accountId: 'subj' });
    expect((await ak.listSubjects({ accountId: 'subj' })).map((s) => s.subject)).toEqual(['idp|s1']);
    expect((await ak.listSubjects()).map((s) => s.subject)).toEqual(['idp|s1', 'idp|s2']);
  });

  it('refuses bad arguments with AgentKeyInputError', async () => {
    await expect(ak.ledger({ afterId: 'x' })).rejects.toBeInstanceOf(AgentKeyInputError);
    await expect(ak.ledger({ limit: 0 })).rejects.toBeInstanceOf(AgentKeyInputError);
    await expect(ak.listHolds({ keyId: 'nope' })).rejects.toBeInstanceOf(AgentKeyInputError);
    await expect(ak.listSubjects({ accountId: '' })).rejects.toBeInstanceOf(AgentKeyInputError);
  });
});
