import type { AccountInfo, KeyInfo } from '@agentkey/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, openPlace, type Place, run, spawnCli } from '../support/cli.js';

/** `agentkey accounts …` and `agentkey budget …` (commands/accounts.ts, commands/budget.ts). */
describe('agentkey accounts and budget', () => {
  let place: Place;
  let id: number;
  let key: string;
  beforeAll(async () => {
    place = await openPlace('postgres');
    expect((await run(place, ['migrate'])).code).toBe(0);
    ({ id, key } = await place.withStore((ak) => ak.create({ accountId: 'acme', budgetCents: 100 })));
  });
  afterAll(() => place.close());

  it("sets an account's ceiling, which then refuses what does not fit it, and shows it", async () => {
    const set = await spawnCli(place, ['accounts', 'budget', 'acme', '--cents', '50', '--period', 'month']);
    expect(set).toMatchObject({ code: 0, err: '' });
    expect(set.out).toMatch(/ceiling\s+\$0\.50 per month/);
    expect(await place.withStore((ak) => ak.authorize(key, { costCents: 60 }))).toMatchObject({ ok: false });
    const shown = await json<{ ceiling: AccountInfo; liveKeys: number }>(place, ['accounts', 'show', 'acme']);
    expect(shown).toMatchObject({ ceiling: { limitCents: 50, period: 'month' }, liveKeys: 1 });
    const removed = await json<AccountInfo>(place, ['accounts', 'budget', 'acme', '--cents', 'none']);
    expect(removed.limitCents).toBeNull();
    expect(await run(place, ['accounts', 'show', 'ghost'])).toMatchObject({
      code: 1,
      err: 'error: no account "ghost"\n',
    });
  });

  it("tops up, sets and resets a key's budget, as a child process and in JSON", async () => {
    const topped = await spawnCli(place, ['budget', 'topup', '--key', String(id), '--cents', '25']);
    expect(topped).toMatchObject({ code: 0, err: '' });
    expect(topped.out).toBe(`key ${id}: topped up by $0.25; now $0.00 / $1.25\n`);
    expect(await place.withStore((ak) => ak.authorize(key, { costCents: 40 }))).toMatchObject({ ok: true });
    const set = await json<{ budget: { limitCents: number; usedCents: number } }>(place, [
      'budget',
      'set',
      '--key',
      String(id),
      '--cents',
      '200',
    ]);
    expect(set.budget).toMatchObject({ limitCents: 200, usedCents: 40 });
    await json(place, ['budget', 'reset', '--key', String(id)]);
    expect((await json<KeyInfo>(place, ['keys', 'show', String(id)])).budget.usedCents).toBe(0);
  });

  it('refuses a negative or missing amount and a missing or double target, each in one line', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['budget', 'topup', '--key', String(id), '--cents', '-5'], /argument '-5' is invalid.*not negative/],
      [['budget', 'topup', '--key', String(id)], /required option '--cents <cents>' not specified/],
      [
        ['budget', 'set', '--cents', '5'],
        /give exactly one of --key <id>, --subject <subject>, --account <id>/,
      ],
      [['budget', 'reset', '--key', '1', '--account', 'a'], /give exactly one of/],
      [['accounts', 'budget', 'acme', '--cents', '1.5'], /argument '1.5' is invalid/],
    ];
    for (const [argv, message] of cases) {
      const ran = await run(place, argv);
      expect(ran.code, argv.join(' ')).toBe(1);
      expect(ran.out).toBe('');
      expect(ran.err.trimEnd().split('\n')).toHaveLength(1);
      expect(ran.err).toMatch(message);
    }
  });
});
