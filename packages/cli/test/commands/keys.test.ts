import type { KeyInfo } from '@agentkey/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, openPlace, type Place, run, spawnCli } from '../support/cli.js';

/** `agentkey migrate` and `agentkey keys …` (commands/keys.ts) on PostgreSQL; PGlite: pglite.test.ts. */
describe('agentkey keys', () => {
  let place: Place;
  let secret: string;
  let id: number;
  beforeAll(async () => {
    place = await openPlace('postgres');
  });
  afterAll(() => place.close());

  it('migrates, as a child process: one line naming the table, exit 0, and again (idempotent)', async () => {
    const first = await spawnCli(place, ['migrate']);
    expect(first).toMatchObject({ code: 0, err: '' });
    expect(first.out).toMatch(/^migrated .*sdk_api_keys in /);
    expect((await run(place, ['migrate'])).code).toBe(0);
  });

  it('creates a key and prints its secret once, which the store then authorizes', async () => {
    const made = await run(place, [
      'keys',
      'create',
      '--account',
      'acme',
      '--name',
      'bot',
      '--budget',
      '500',
      '--period',
      'day',
      '--scopes',
      'llm:call,llm:stream',
      '--expires-in',
      '30d',
    ]);
    expect(made).toMatchObject({ code: 0, err: '' });
    const secrets = made.out.match(/ak_[0-9a-f]{20,}/g) ?? [];
    expect(secrets).toHaveLength(1);
    secret = secrets[0]!;
    id = Number(/created key (\d+)/.exec(made.out)![1]);
    expect(made.out).toMatch(/only time the secret is shown/);
    const ok = await place.withStore((ak) => ak.authorize(secret, { scope: 'llm:call', costCents: 1 }));
    expect(ok).toMatchObject({ ok: true, principal: { id } });
  });

  it('lists and shows the key, as tables and as JSON, never with its secret', async () => {
    const list = await run(place, ['keys', 'list', '--account', 'acme']);
    expect(list.code).toBe(0);
    expect(list.out).toMatch(new RegExp(`^${id}\\s+bot\\s+ak_`, 'm'));
    expect(list.out).toMatch(/\$0\.01 \/ \$5\.00 per day/);
    const show = await run(place, ['keys', 'show', String(id)]);
    expect(show.out).toMatch(/scopes\s+llm:call,llm:stream/);
    const listed = await json<KeyInfo[]>(place, ['keys', 'list', '--account', 'acme']);
    expect(listed.map((k) => [k.id, k.name, k.budget.limitCents, k.budget.usedCents])).toEqual([
      [id, 'bot', 500, 1],
    ]);
    const shown = await json<KeyInfo>(place, ['keys', 'show', String(id)]);
    expect(shown).toMatchObject({
      id,
      accountId: 'acme',
      scopes: ['llm:call', 'llm:stream'],
      revokedAt: null,
    });
    for (const text of [list.out, show.out, JSON.stringify(listed), JSON.stringify(shown)]) {
      expect(text).not.toContain(secret);
      expect(text).not.toMatch(/hash/i);
    }
  });

  it('updates name, budget and expiry, and refuses an update that changes nothing', async () => {
    const updated = await json<KeyInfo>(place, [
      'keys',
      'update',
      String(id),
      '--name',
      'bot-2',
      '--budget',
      'none',
      '--no-expiry',
    ]);
    expect(updated).toMatchObject({ name: 'bot-2', budget: { limitCents: null }, expiresAt: null });
    const none = await run(place, ['keys', 'update', String(id)]);
    expect(none.code).toBe(1);
    expect(none.err).toBe(
      'error: nothing to change: give --name, --scopes, --budget, --period, --expires-in or --no-expiry\n',
    );
  });

  it('takes none where the help says so (a budget, an expiry), and refuses a key expired at birth', async () => {
    const made = await json<{ id: number; budgetCents: number | null; expiresAt: unknown }>(place, [
      'keys',
      'create',
      '--account',
      'none',
      '--budget',
      'none',
      '--expires-in',
      'none',
    ]);
    expect(made).toMatchObject({ budgetCents: null, expiresAt: null });
    const timed = await json<KeyInfo>(place, ['keys', 'update', String(made.id), '--expires-in', '7d']);
    expect(timed.expiresAt).not.toBeNull();
    const never = await json<KeyInfo>(place, ['keys', 'update', String(made.id), '--expires-in', 'none']);
    expect(never.expiresAt).toBeNull();
    const born = await run(place, ['keys', 'create', '--account', 'none', '--expires-in', '0d']);
    expect(born).toMatchObject({ code: 1, out: '' });
    expect(born.err).toMatch(
      /A lifetime is longer than zero, got "0d": the key would be expired at birth\.\n$/,
    );
  });

  it('refuses scopes that are only commas, and a period with no budget to renew', async () => {
    const commas = await run(place, ['keys', 'create', '--account', 'slips', '--scopes', ',, ,']);
    expect(commas).toMatchObject({ code: 1, out: '' });
    expect(commas.err).toMatch(
      /argument ',, ,' is invalid. Scopes are comma-separated words \(chat,embed\), or all or none alone/,
    );
    // A blank word or none/all inside a list is a slip too; spaces around words are trimmed.
    for (const slip of ['chat,,embed', 'none,chat', 'all,chat']) {
      const ran = await run(place, ['keys', 'create', '--account', 'slips', '--scopes', slip]);
      expect(ran.code, slip).toBe(1);
      expect(ran.err, slip).toMatch(/Scopes are comma-separated words/);
    }
    const period = await run(place, ['keys', 'create', '--account', 'slips', '--period', 'day']);
    expect(period).toMatchObject({ code: 1, out: '' });
    expect(period.err).toBe('error: --period renews a cap: give --budget too\n');
    const noCap = await run(place, [
      'keys',
      'create',
      '--account',
      'slips',
      '--budget',
      'none',
      '--period',
      'day',
    ]);
    expect(noCap.err).toBe('error: --period renews a cap: it cannot go with --budget none\n');
    // The library's refusals name the flag, not its own field.
    const long = await run(place, ['keys', 'create', '--account', 'slips', '--name', 'n'.repeat(300)]);
    expect(long).toMatchObject({ code: 1, out: '' });
    expect(long.err).toMatch(/^error: --name must be 1-200 characters/);
    // Nothing was made by any of them.
    expect(await place.withStore((ak) => ak.listKeys('slips'))).toEqual([]);
    // With a budget the period is taken.
    const made = await json<KeyInfo>(place, [
      'keys',
      'create',
      '--account',
      'slips',
      '--budget',
      '100',
      '--period',
      'day',
    ]);
    expect(made).toMatchObject({ budgetCents: 100, budgetPeriod: 'day' });
    // The same slip elsewhere: an update of a key with no cap, `none` beside a period, an account.
    const bare = await json<KeyInfo>(place, ['keys', 'create', '--account', 'slips2']);
    const slips: Array<[string[], string]> = [
      [['keys', 'update', String(bare.id), '--period', 'month'], '--period renews a cap: give --budget too'],
      [
        ['keys', 'update', String(made.id), '--budget', 'none', '--period', 'month'],
        '--period renews a cap: it cannot go with --budget none',
      ],
      [
        ['budget', 'set', '--key', String(made.id), '--cents', 'none', '--period', 'month'],
        '--period renews a cap: it cannot go with --cents none',
      ],
      [
        ['accounts', 'budget', 'slips', '--cents', 'none', '--period', 'month'],
        '--period renews a cap: it cannot go with --cents none',
      ],
      // A positional argument is named as the usage line names it, not as the library's field.
      [
        ['accounts', 'budget', 'é', '--cents', '5'],
        '<account> must be 1-512 printable ASCII characters, got "é"',
      ],
    ];
    for (const [argv, message] of slips)
      expect(await run(place, argv), argv.join(' ')).toMatchObject({ code: 1, err: `error: ${message}\n` });
    // A key that has a cap takes a period alone; none of the refused ones changed anything.
    expect(await json<KeyInfo>(place, ['keys', 'update', String(made.id), '--period', 'week'])).toMatchObject(
      {
        budget: { limitCents: 100, period: 'week' },
      },
    );
    expect((await json<KeyInfo>(place, ['keys', 'show', String(bare.id)])).budget.period).toBeNull();
    // A top-up past the largest cap: refused in one line that names --cents, and nothing changed.
    const over = await run(place, ['budget', 'topup', '--key', String(made.id), '--cents', '2147483600']);
    expect(over).toMatchObject({ code: 1, out: '' });
    expect(over.err).toMatch(
      /^error: --cents: a top-up of 2147483600 would take the cap past 2147483647 cents/,
    );
    expect((await json<KeyInfo>(place, ['keys', 'show', String(made.id)])).budget.limitCents).toBe(100);
  });

  it('revokes the key (the store refuses it after), and a second revoke is one line and exit 1', async () => {
    expect(await run(place, ['keys', 'revoke', String(id)])).toMatchObject({
      code: 0,
      out: `revoked key ${id}\n`,
    });
    expect(await place.withStore((ak) => ak.authorize(secret))).toMatchObject({ ok: false });
    const again = await run(place, ['keys', 'revoke', String(id)]);
    expect(again).toMatchObject({ code: 1, out: '' });
    expect(again.err).toMatch(
      /^error: key \d+ is not live: no such key, already revoked, or another account's\n$/,
    );
    expect((await json<KeyInfo>(place, ['keys', 'show', String(id)])).revokedAt).not.toBeNull();
  });

  it('says one line for a key that does not exist', async () => {
    expect(await run(place, ['keys', 'show', '999999'])).toEqual({
      code: 1,
      out: '',
      err: 'error: no key with id 999999\n',
    });
  });
});
