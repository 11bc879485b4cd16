import { type AgentKey, AgentKeyInputError } from '@agentkey/core';
import { oidcVerifier } from '@agentkey/oidc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IdpStandIn, startIdp } from '../packages/oidc/test/support/idp-server.js';
import { makeKey, mint, type TestKey } from '../packages/oidc/test/support/keys.js';
import { manualClock, openStore, type TestDb } from './support/db.js';

const AUD = 'https://api.example.test';

// Two real issuers whose names differ by `|x`: with `|` allowed in a namespace, issuer `…/t` and
// `sub: "x|victim"` named the subject of issuer `…/t|x` and `sub: "victim"`, and charged its row.
describe('subject namespaces across issuers', () => {
  let ak: AgentKey;
  let db: TestDb;
  let idp: IdpStandIn;
  let key: TestKey;
  const clock = manualClock();
  const verifierFor = (issuer: string, subjectNamespace?: string) =>
    oidcVerifier({
      issuer,
      audience: AUD,
      jwksUri: idp.jwksUri,
      allowInsecureIssuer: true,
      now: clock.now,
      ...(subjectNamespace ? { subjectNamespace } : {}),
    });
  const token = (iss: string, sub: string) => mint(key, { iss, aud: AUD, sub, now: clock.now() });
  const usedCents = async (subject: string) =>
    (
      await db.pool.query(`SELECT budget_used_cents FROM ${db.table} WHERE external_subject = $1`, [subject])
    ).rows.map((r) => r.budget_used_cents);

  beforeAll(async () => {
    ({ ak, db } = await openStore('postgres', { now: clock.now }));
    idp = await startIdp();
    key = await makeKey('k');
    idp.keys = [key.jwk];
  });
  afterAll(async () => {
    await idp.close();
    await db.close();
  });

  it("keeps …/t's `x|victim` off the row of …/t|x's `victim`", async () => {
    const attackerIssuer = `${idp.origin}/t`;
    const victimIssuer = `${idp.origin}/t|x`;
    // The victim's issuer can no longer name its subjects after itself: that name is taken by …/t.
    expect(() => verifierFor(victimIssuer)).toThrow(AgentKeyInputError);
    expect(() => verifierFor(victimIssuer)).toThrow(/set subjectNamespace/);
    const victimNamespace = `${idp.origin}/t%7Cx`;
    const gate = ak.gate({
      verifiers: [verifierFor(attackerIssuer), verifierFor(victimIssuer, victimNamespace)],
      firstSeen: { scopes: null, budgetCents: 100 },
    });

    const victim = await gate.authenticate(await token(victimIssuer, 'victim'), { costCents: 10 });
    const attacker = await gate.authenticate(await token(attackerIssuer, 'x|victim'), { costCents: 5 });
    expect(victim).toMatchObject({ ok: true, principal: { subject: `${victimNamespace}|victim` } });
    // Exactly the subject the victim had while its namespace was its issuer.
    expect(attacker).toMatchObject({ ok: true, principal: { subject: `${victimIssuer}|victim` } });
    expect(victim.ok && attacker.ok && victim.principal.id !== attacker.principal.id).toBe(true);
    expect(await usedCents(`${victimNamespace}|victim`)).toEqual([10]);
    expect(await usedCents(`${victimIssuer}|victim`)).toEqual([5]);
  });
});
