import type { AgentKey, FirstSeenPolicy, Verifier } from '@agentkey/core';
import { openStore, type TestDb } from '@agentkey/test-support/db.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// What the gate grants on first sight is what was checked at construction; whose row a verified
// subject reaches is bounded by its verifier's namespace; a principal's scopes answer as authorize.
describe('gate: first sight, scopes and namespaces', () => {
  let db: TestDb;
  let ak: AgentKey;
  beforeAll(async () => {
    ({ db, ak } = await openStore('postgres', { validScopes: ['read', 'write'] }));
  });
  afterAll(() => db.close());

  let n = 0;
  const verifier = (
    extra: Partial<Verifier> = {},
    scopes: string[] | null = null,
    subject = (c: string) => `ns|${c}`,
  ): Verifier => ({
    id: `v${++n}`,
    accepts: (c) => c.startsWith('tok_'),
    verify: async (c) => ({
      ok: true,
      identity: { subject: subject(c), scopes, expiresAt: null, claims: {} },
    }),
    ...extra,
  });
  const row = async (subject: string) =>
    (
      await db.pool.query(
        `SELECT scopes, budget_cents, budget_used_cents, expires_at > created_at AS alive FROM ${db.table} WHERE external_subject = $1`,
        [subject],
      )
    ).rows;

  describe('a policy changed after construction grants what was checked', () => {
    it('fields deleted from the gate policy', async () => {
      const policy: FirstSeenPolicy = { scopes: ['read'], budgetCents: 100 };
      const gate = ak.gate({ verifiers: [verifier()], firstSeen: policy });
      delete (policy as Partial<FirstSeenPolicy>).scopes;
      delete (policy as Partial<FirstSeenPolicy>).budgetCents;
      const r = await gate.authenticate('tok_a', { scope: 'write', costCents: 1_000_000 });
      expect(r).toMatchObject({ ok: false, error: { code: 'insufficient_scope' } });
      expect(await row('ns|tok_a')).toEqual([
        { scopes: ['read'], budget_cents: 100, budget_used_cents: 0, alive: null },
      ]);
    });

    it("a getter on a verifier's policy is read once", async () => {
      let reads = 0;
      const policy = {
        get scopes() {
          return ++reads <= 1 ? ['read'] : undefined;
        },
        budgetCents: 100,
      } as unknown as FirstSeenPolicy;
      const gate = ak.gate({ verifiers: [verifier({ firstSeen: policy })] });
      expect(await gate.authenticate('tok_b', { scope: 'write' })).toMatchObject({ ok: false });
      expect(await row('ns|tok_b')).toMatchObject([{ scopes: ['read'], budget_cents: 100 }]);
      expect(reads).toBe(1);
    });

    it('expiresIn and the scopes array mutated later', async () => {
      const scopes = ['read'];
      const policy: FirstSeenPolicy = { scopes, budgetCents: 100, expiresIn: '1h' };
      const gate = ak.gate({ verifiers: [verifier({ firstSeen: policy })] });
      policy.expiresIn = '0h';
      scopes.push('write');
      expect(await gate.authenticate('tok_c', { scope: 'read' })).toMatchObject({
        ok: true,
        provisioned: true,
      });
      expect(await row('ns|tok_c')).toMatchObject([{ scopes: ['read'], alive: true }]);
    });

    it('an accountId function returning an unusable id refuses first sight, writing nothing', async () => {
      const policy = { scopes: ['read'], budgetCents: 1, accountId: () => 'bad\naccount' };
      const gate = ak.gate({ verifiers: [verifier({ firstSeen: policy })] });
      expect(await gate.authenticate('tok_acct')).toMatchObject({
        ok: false,
        error: { code: 'unprovisioned' },
      });
      expect(await row('ns|tok_acct')).toEqual([]);
    });
  });

  it("a token's scopes outside validScopes (admin) never reach the principal", async () => {
    await ak.ensureSubject('ns|tok_d', { scopes: null, budgetCents: 100 });
    const gate = ak.gate({ verifiers: [verifier({}, ['admin', 'read'])] });
    const r = await gate.authenticate('tok_d');
    expect(r).toMatchObject({ ok: true, principal: { scopes: ['read'] } });
    const principal = (r as { principal: { scopes: string[] | null } }).principal;
    // The reported principal and the decision agree, scope by scope.
    for (const scope of ['read', 'write', 'admin']) {
      const decided = (await gate.authenticate('tok_d', { scope })).ok;
      expect({ scope, decided, hasScope: ak.hasScope(principal, scope) }).toEqual({
        scope,
        decided: scope === 'read',
        hasScope: scope === 'read',
      });
    }
  });

  describe('subjects stay in their namespace', () => {
    const other = (firstSeen?: FirstSeenPolicy) => ({
      id: `partner${++n}`,
      accepts: (c: string) => c.startsWith('partner_'),
      verify: async () => ({
        ok: true as const,
        identity: { subject: 'acme.eu.auth0.com|cid', scopes: null, expiresAt: null, claims: {} },
      }),
      ...(firstSeen ? { firstSeen } : {}),
    });
    const auth0Like = verifier({ subjectNamespace: 'acme.eu.auth0.com' });

    it('a verifier without a namespace cannot land on a namespace another verifier declares', async () => {
      await ak.ensureSubject('acme.eu.auth0.com|cid', { budgetCents: 100, scopes: ['read'] });
      const gate = ak.gate({ verifiers: [auth0Like, other({ scopes: null, budgetCents: null })] });
      const r = await gate.authenticate('partner_x', { costCents: 60, scope: 'read' });
      expect(r).toMatchObject({ ok: false, error: { code: 'unavailable' } });
      expect((r as { error: { cause: Error } }).error.cause.message).toContain('outside its namespace');
      expect(await row('acme.eu.auth0.com|cid')).toMatchObject([{ budget_used_cents: 0 }]);
    });

    it('a verifier declaring a namespace may name only subjects in it', async () => {
      const liar = { ...other(), subjectNamespace: 'partner' };
      const gate = ak.gate({ verifiers: [liar], firstSeen: { scopes: null, budgetCents: null } });
      expect(await gate.authenticate('partner_y', { costCents: 1 })).toMatchObject({
        ok: false,
        error: { code: 'unavailable' },
      });
      expect(await row('acme.eu.auth0.com|cid')).toMatchObject([{ budget_used_cents: 0 }]);
      // Its own namespace passes.
      const honest = verifier({ subjectNamespace: 'ns' });
      expect(await ak.gate({ verifiers: [honest] }).authenticate('tok_d')).toMatchObject({ ok: true });
    });

    it('two verifiers declaring one namespace throw unless the gate lists it as shared', () => {
      const twin = () => verifier({ subjectNamespace: 'clerk' });
      expect(() => ak.gate({ verifiers: [twin(), twin()] })).toThrow(/both declare subjectNamespace "clerk"/);
      expect(() => ak.gate({ verifiers: [twin(), twin()], sharedNamespaces: ['clerk'] })).not.toThrow();
      expect(() => ak.gate({ verifiers: [twin()], sharedNamespaces: ['other'] })).toThrow(/sharedNamespaces/);
      expect(() => ak.gate({ verifiers: [verifier({ subjectNamespace: 'a|b' })] })).toThrow(
        /subjectNamespace/,
      );
    });
  });
});
