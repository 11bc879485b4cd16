import type { KeyInfo } from '@agentkey/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, openPlace, type Place, run, spawnCli } from '../support/cli.js';

/** `agentkey subjects …` (commands/subjects.ts): the rows external identities got on first sight. */
describe('agentkey subjects', () => {
  let place: Place;
  const sub = 'oidc:https://idp.example|client-1';
  beforeAll(async () => {
    place = await openPlace('postgres');
    expect((await run(place, ['migrate'])).code).toBe(0);
    await place.withStore(async (ak) => {
      await ak.ensureSubject(sub, { accountId: 'acme', budgetCents: 300, scopes: ['llm:call'] });
      await ak.ensureSubject('clerk:user_2', { accountId: 'other' });
      await ak.create({ accountId: 'acme' }); // a native key: never listed as a subject
    });
  });
  afterAll(() => place.close());

  it('lists subjects of all accounts or one, as a child process', async () => {
    const all = await spawnCli(place, ['subjects', 'list']);
    expect(all).toMatchObject({ code: 0, err: '' });
    expect(all.out).toContain(sub);
    expect(all.out).toContain('clerk:user_2');
    const acme = await json<KeyInfo[]>(place, ['subjects', 'list', '--account', 'acme']);
    expect(acme.map((s) => s.subject)).toEqual([sub]);
  });

  it('shows, updates and revokes a subject', async () => {
    expect((await run(place, ['subjects', 'show', sub])).out).toMatch(/budget\s+\$0\.00 \/ \$3\.00/);
    const updated = await json<KeyInfo>(place, [
      'subjects',
      'update',
      sub,
      '--budget',
      '900',
      '--scopes',
      'all',
    ]);
    expect(updated).toMatchObject({ subject: sub, scopes: null, budget: { limitCents: 900 } });
    expect(await run(place, ['subjects', 'revoke', sub])).toMatchObject({ code: 0, out: `revoked ${sub}\n` });
    expect(await place.withStore((ak) => ak.authorize({ subject: sub }))).toMatchObject({ ok: false });
    expect((await json<KeyInfo>(place, ['subjects', 'show', sub])).revokedAt).not.toBeNull();
  });

  it('says one line for a subject it does not know', async () => {
    expect(await run(place, ['subjects', 'show', 'nobody'])).toEqual({
      code: 1,
      out: '',
      err: 'error: no subject "nobody"\n',
    });
  });
});
