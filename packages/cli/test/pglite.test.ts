import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { HoldInfo, KeyInfo, LedgerEntry } from '@agentkey/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, openPlace, type Place, run, spawnCli } from './support/cli.js';

// PGlite opens its folder in WebAssembly for every command: slow on a busy machine.
const SLOW = 240_000;

/**
 * The CLI on a PGlite folder laid out as the gateway leaves it (<data>/pglite): every command group
 * once. The other suites run each command in depth on PostgreSQL.
 */
describe('agentkey on a PGlite folder', () => {
  let place: Place;
  let id: number;
  let secret: string;
  beforeAll(async () => {
    place = await openPlace('pglite');
  }, SLOW);
  afterAll(() => place.close());

  it(
    'migrates a new folder as a child process, then mints a key whose secret is printed once',
    async () => {
      const migrated = await spawnCli(place, ['migrate']);
      expect(migrated).toMatchObject({ code: 0, err: '' });
      expect(migrated.out).toMatch(/^migrated sdk_api_keys in the PGlite database at \.agentkey\/pglite\n$/);
      const made = await json<{ id: number; key: string }>(place, [
        'keys',
        'create',
        '--account',
        'acme',
        '--budget',
        '1000',
      ]);
      ({ id, key: secret } = made);
      expect(secret).toMatch(/^ak_/);
      const listed = await json<KeyInfo[]>(place, ['keys', 'list', '--account', 'acme']);
      expect(listed.map((k) => k.id)).toEqual([id]);
      expect(JSON.stringify(listed)).not.toContain(secret);
    },
    SLOW,
  );

  it(
    'sees what a store did in the folder: usage, holds, the ledger, subjects, accounts',
    async () => {
      await place.withStore(async (ak) => {
        await ak.authorize(secret, { costCents: 12 });
        await ak.reserve(secret, { maxCents: 30 });
        await ak.ensureSubject('oidc:https://idp|c1', { accountId: 'acme' });
        await ak.setAccountBudget('acme', { budgetCents: 5000 });
      });
      const usage = await json<{ totalCents: number }>(place, [
        'usage',
        '--key',
        String(id),
        '--since',
        '1h',
      ]);
      expect(usage.totalCents).toBe(12);
      const holds = await json<HoldInfo[]>(place, ['holds', 'list', '--account', 'acme']);
      expect(holds.map((h) => h.amountCents)).toEqual([30]);
      const ledger = await json<LedgerEntry[]>(place, ['ledger', '--account', 'acme']);
      expect(ledger.map((e) => e.kind)).toEqual(expect.arrayContaining(['charge', 'hold']));
      const subjects = await json<KeyInfo[]>(place, ['subjects', 'list']);
      expect(subjects.map((s) => s.subject)).toEqual(['oidc:https://idp|c1']);
      const account = await json<{ ceiling: { limitCents: number } }>(place, ['accounts', 'show', 'acme']);
      expect(account.ceiling.limitCents).toBe(5000);
    },
    SLOW,
  );

  it(
    "with no connection option it opens the working directory's .agentkey folder (the gateway's default)",
    async () => {
      const topped = await run({ cwd: place.cwd, env: {}, args: [] }, [
        'budget',
        'topup',
        '--key',
        String(id),
        '--cents',
        '500',
      ]);
      expect(topped.code, topped.err).toBe(0);
      expect(topped.out).toMatch(/topped up by \$5\.00; now \$0\.12 \/ \$15\.00 \(\+\$0\.30 held\)/);
      expect(await run({ cwd: place.cwd, env: {}, args: [] }, ['keys', 'revoke', String(id)])).toMatchObject({
        code: 0,
      });
      expect(await place.withStore((ak) => ak.authorize(secret))).toMatchObject({ ok: false });
      // Each command held the folder's lock while it had it open, and let go of it.
      expect(existsSync(join(place.cwd, '.agentkey', 'gateway.lock'))).toBe(false);
    },
    SLOW,
  );
});
