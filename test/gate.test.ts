import { type AgentKey, AgentKeyInputError, type FirstSeenPolicy, type Verifier } from '@agentkey/core';
import { oidcVerifier } from '@agentkey/oidc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstReset } from '../packages/core/src/budget/period.js';
import { deadOrigin, type IdpStandIn, startIdp } from '../packages/oidc/test/support/idp-server.js';
import { makeKey, mint, nowSec, type TestKey } from '../packages/oidc/test/support/keys.js';
import { manualClock, openStore, type TestDb } from './support/db.js';

const AUD = 'https://api.example.test';
const HOUR = 3_600_000;

// The gate with real OIDC verifiers: tokens signed by real keys, served from a local JWKS.
describe('Gate', () => {
  let ak: AgentKey;
  let db: TestDb;
  const clock = manualClock();
  let idpA: IdpStandIn;
  let idpB: IdpStandIn;
  let keyA: TestKey;
  let keyB: TestKey;
  let n = 0;

  const verifierFor = (idp: IdpStandIn, extra: { firstSeen?: FirstSeenPolicy; id?: string } = {}) =>
    oidcVerifier({
      issuer: idp.origin,
      audience: AUD,
      jwksUri: idp.jwksUri,
      allowInsecureIssuer: true,
      now: clock.now,
      ...extra,
    });
  const tokenA = (sub: string, claims: Record<string, unknown> = {}) =>
    mint(keyA, { iss: idpA.origin, aud: AUD, sub, now: clock.now() }, { claims });
  const fresh = () => `client-${++n}`;
  const rowsOf = async (subject: string) =>
    (await db.pool.query(`SELECT * FROM ${db.table} WHERE external_subject = $1`, [subject])).rows;
  /** A verifier that accepts everything and records what it was asked. */
  const catchAll = (id: string) => {
    const calls: string[] = [];
    const verifier: Verifier = {
      id,
      accepts: () => true,
      verify: async (token) => {
        calls.push(token);
        return {
          ok: true,
          identity: { subject: `${id}|${token}`, scopes: null, expiresAt: null, claims: { via: id } },
        };
      },
    };
    return { verifier, calls };
  };

  beforeAll(async () => {
    ({ ak, db } = await openStore('postgres', { now: clock.now }));
    [idpA, idpB] = await Promise.all([startIdp(), startIdp()]);
    [keyA, keyB] = await Promise.all([makeKey('a'), makeKey('b')]);
    idpA.keys = [keyA.jwk];
    idpB.keys = [keyB.jwk];
  });
  afterAll(async () => {
    await Promise.all([idpA.close(), idpB.close()]);
    await db.close();
  });

  it('refuses duplicate verifier ids at construction', () => {
    expect(() => ak.gate({ verifiers: [verifierFor(idpA), verifierFor(idpA)] })).toThrow(AgentKeyInputError);
    expect(() => ak.gate({ verifiers: [verifierFor(idpA), verifierFor(idpA)] })).toThrow(
      `duplicate id "oidc:${idpA.origin}"`,
    );
    // Distinct ids on one issuer share its namespace: allowed only when the gate says so.
    const twins = () => [verifierFor(idpA), verifierFor(idpA, { id: 'other' })];
    expect(() => ak.gate({ verifiers: twins() })).toThrow('both declare subjectNamespace');
    expect(() => ak.gate({ verifiers: twins(), sharedNamespaces: [idpA.origin] })).not.toThrow();
  });

  describe('routing', () => {
    it('checks the native prefix first: no verifier sees an ak_ key', async () => {
      const all = catchAll('all');
      const gate = ak.gate({ verifiers: [all.verifier] });
      const { key, id } = await ak.create({ accountId: 'acct_native' });
      const result = await gate.authenticate(key, { costCents: 1 });
      expect(result).toMatchObject({
        ok: true,
        principal: { kind: 'key', id, verifier: 'native', claims: {} },
      });
      expect(all.calls).toEqual([]);
    });

    it('asks the first verifier that accepts, and only it', async () => {
      const first = catchAll('first');
      const second = catchAll('second');
      const gate = ak.gate({
        verifiers: [verifierFor(idpA), first.verifier, second.verifier],
        firstSeen: { scopes: null, budgetCents: null },
      });
      const jwt = await tokenA(fresh());
      expect(await gate.authenticate(jwt)).toMatchObject({
        ok: true,
        principal: { verifier: `oidc:${idpA.origin}` },
      });
      expect(first.calls).toEqual([]);
      expect(await gate.authenticate('opaque-1')).toMatchObject({
        ok: true,
        principal: { verifier: 'first', subject: 'first|opaque-1' },
      });
      expect(second.calls).toEqual([]);
    });

    it('answers invalid_token when no verifier accepts', async () => {
      const gate = ak.gate({ verifiers: [verifierFor(idpA)] });
      idpA.requests.length = 0;
      const foreign = await mint(keyB, { iss: idpB.origin, aud: AUD, now: clock.now() });
      for (const credential of ['opaque', foreign]) {
        expect(await gate.authenticate(credential)).toMatchObject({
          ok: false,
          error: { code: 'invalid_token', reason: 'unknown' },
        });
      }
      expect(idpA.requests).toEqual([]);
    });
  });

  describe('first sight', () => {
    it("creates the row per the verifier's policy: scopes, budget, period, expiry, account", async () => {
      const gate = ak.gate({
        verifiers: [
          verifierFor(idpA, {
            firstSeen: {
              scopes: ['read', 'write'],
              budgetCents: 50,
              budgetPeriod: 'month',
              expiresIn: '30d',
              accountId: 'acme',
              name: 'oidc agent',
            },
          }),
        ],
        firstSeen: { scopes: null, budgetCents: 1 }, // the verifier's own policy wins
      });
      const sub = fresh();
      const subject = `${idpA.origin}|${sub}`;
      const first = await gate.authenticate(await tokenA(sub), { costCents: 1 });
      expect(first).toMatchObject({ ok: true, provisioned: true, principal: { subject, accountId: 'acme' } });
      const [row, ...others] = await rowsOf(subject);
      expect(others).toEqual([]);
      expect(row).toMatchObject({
        account_id: 'acme',
        scopes: ['read', 'write'],
        budget_cents: 50,
        budget_period: 'month',
        budget_used_cents: 1,
        name: 'oidc agent',
        revoked_at: null,
      });
      expect(row.expires_at.getTime()).toBe(clock.now().getTime() + 30 * 24 * HOUR);
      expect(row.budget_reset_at).toEqual(firstReset('month', clock.now()));
    });

    it('derives the account from the identity when the policy says how', async () => {
      const gate = ak.gate({
        verifiers: [
          oidcVerifier({
            issuer: idpA.origin,
            audience: AUD,
            jwksUri: idpA.jwksUri,
            allowInsecureIssuer: true,
            now: clock.now,
            accountClaim: 'org_id',
            firstSeen: { scopes: null, budgetCents: 5 },
          }),
        ],
      });
      const sub = fresh();
      expect(await gate.authenticate(await tokenA(sub, { org_id: 'org_42' }))).toMatchObject({
        ok: true,
        principal: { accountId: 'org_42' },
      });
      expect((await rowsOf(`${idpA.origin}|${sub}`))[0].account_id).toBe('org_42');
    });

    it("falls back to the gate's policy for a verifier without one", async () => {
      const gate = ak.gate({
        verifiers: [verifierFor(idpA)],
        firstSeen: { scopes: ['read'], budgetCents: 7, budgetPeriod: 'day' },
      });
      const sub = fresh();
      const subject = `${idpA.origin}|${sub}`;
      expect(await gate.authenticate(await tokenA(sub))).toMatchObject({ ok: true, provisioned: true });
      expect((await rowsOf(subject))[0]).toMatchObject({
        account_id: subject,
        scopes: ['read'],
        budget_cents: 7,
        budget_period: 'day',
        expires_at: null,
      });
    });

    it('refuses as unprovisioned, and writes nothing, when no policy applies', async () => {
      const gate = ak.gate({ verifiers: [verifierFor(idpA)] });
      const sub = fresh();
      expect(await gate.authenticate(await tokenA(sub), { costCents: 1 })).toMatchObject({
        ok: false,
        error: { code: 'unprovisioned' },
      });
      expect(await rowsOf(`${idpA.origin}|${sub}`)).toEqual([]);
    });
  });

  describe('an existing row', () => {
    const gateWith = (firstSeen: FirstSeenPolicy) =>
      ak.gate({ verifiers: [verifierFor(idpA, { firstSeen })] });

    it('is charged again on the second request, not duplicated', async () => {
      const gate = gateWith({ scopes: null, budgetCents: 100 });
      const sub = fresh();
      const token = await tokenA(sub);
      const first = await gate.authenticate(token, { costCents: 2 });
      const second = await gate.authenticate(token, { costCents: 3 });
      expect(first).toMatchObject({ ok: true, provisioned: true, chargedCents: 2 });
      expect(second).toMatchObject({
        ok: true,
        provisioned: false,
        chargedCents: 3,
        budget: { usedCents: 5 },
      });
      expect(first.ok && second.ok && first.principal.id === second.principal.id).toBe(true);
      const rows = await rowsOf(`${idpA.origin}|${sub}`);
      expect(rows.map((r) => r.budget_used_cents)).toEqual([5]);
    });

    it("grants the row's scopes intersected with the token's", async () => {
      const gate = gateWith({ scopes: ['read', 'write'], budgetCents: null });
      const sub = fresh();
      const token = await tokenA(sub, { scope: 'read admin' });
      expect(await gate.authenticate(token, { scope: 'read' })).toMatchObject({
        ok: true,
        principal: { scopes: ['read'] },
      });
      for (const scope of ['write', 'admin']) {
        expect(await gate.authenticate(token, { scope, costCents: 1 })).toMatchObject({
          ok: false,
          error: { code: 'insufficient_scope', scope },
        });
      }
      // A token that says nothing about scopes leaves the row's.
      const silent = await tokenA(sub, { scope: undefined });
      expect(await gate.authenticate(silent, { scope: 'write' })).toMatchObject({
        ok: true,
        principal: { scopes: ['read', 'write'] },
      });
      expect((await rowsOf(`${idpA.origin}|${sub}`))[0].budget_used_cents).toBe(0);
    });

    it('expires at the earlier of the row and the token', async () => {
      const gate = gateWith({ scopes: null, budgetCents: null, expiresIn: '1h' });
      const sub = fresh();
      const rowExpiry = new Date(clock.now().getTime() + HOUR);
      const lateToken = await tokenA(sub, { exp: nowSec(clock.now()) + 7200 });
      expect(await gate.authenticate(lateToken)).toMatchObject({
        ok: true,
        principal: { expiresAt: rowExpiry },
      });
      const soonExp = nowSec(clock.now()) + 600;
      const soonToken = await tokenA(sub, { exp: soonExp });
      expect(await gate.authenticate(soonToken)).toMatchObject({
        ok: true,
        principal: { expiresAt: new Date(soonExp * 1000) },
      });
    });

    it('refuses a valid token once its row is revoked', async () => {
      const gate = gateWith({ scopes: null, budgetCents: 10 });
      const sub = fresh();
      const token = await tokenA(sub);
      expect((await gate.authenticate(token)).ok).toBe(true);
      expect(await ak.revokeSubject(`${idpA.origin}|${sub}`)).toBe(true);
      expect(await gate.authenticate(token, { costCents: 1 })).toMatchObject({
        ok: false,
        error: { code: 'invalid_token', reason: 'revoked' },
      });
      // Revocation is not undone by first sight: the row stays, refused.
      expect((await rowsOf(`${idpA.origin}|${sub}`)).map((r) => r.budget_used_cents)).toEqual([0]);
    });

    it('keeps the same sub from two issuers in two rows', async () => {
      const gate = ak.gate({
        verifiers: [verifierFor(idpA), verifierFor(idpB)],
        firstSeen: { scopes: null, budgetCents: 100 },
      });
      const sub = fresh();
      const fromA = await tokenA(sub);
      const fromB = await mint(keyB, { iss: idpB.origin, aud: AUD, sub, now: clock.now() });
      const a = await gate.authenticate(fromA, { costCents: 1 });
      const b = await gate.authenticate(fromB, { costCents: 4 });
      expect(a).toMatchObject({ ok: true, principal: { subject: `${idpA.origin}|${sub}` } });
      expect(b).toMatchObject({ ok: true, principal: { subject: `${idpB.origin}|${sub}` } });
      expect(a.ok && b.ok && a.principal.id !== b.principal.id).toBe(true);
      expect((await rowsOf(`${idpA.origin}|${sub}`))[0].budget_used_cents).toBe(1);
      expect((await rowsOf(`${idpB.origin}|${sub}`))[0].budget_used_cents).toBe(4);
    });
  });

  describe('fail closed', () => {
    it('answers unavailable when a verifier throws, and writes nothing', async () => {
      const cause = new Error('verifier bug');
      const broken: Verifier = { id: 'broken', accepts: () => true, verify: () => Promise.reject(cause) };
      const gate = ak.gate({ verifiers: [broken], firstSeen: { scopes: null, budgetCents: 10 } });
      expect(await gate.authenticate('anything', { costCents: 1 })).toMatchObject({
        ok: false,
        error: { code: 'unavailable', cause },
      });
      expect(await rowsOf('broken|anything')).toEqual([]);
    });

    it('answers unavailable when the IdP cannot be reached', async () => {
      const gate = ak.gate({
        verifiers: [
          oidcVerifier({
            issuer: idpA.origin,
            audience: AUD,
            jwksUri: `${await deadOrigin()}/jwks`,
            allowInsecureIssuer: true,
            now: clock.now,
          }),
        ],
        firstSeen: { scopes: null, budgetCents: 10 },
      });
      const sub = fresh();
      expect(await gate.authenticate(await tokenA(sub))).toMatchObject({
        ok: false,
        error: { code: 'unavailable' },
      });
      expect(await rowsOf(`${idpA.origin}|${sub}`)).toEqual([]);
    });
  });
});
