import type { HoldInfo } from '@agentkey/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, openPlace, type Place, run, spawnCli } from '../support/cli.js';

/** `agentkey holds list` (commands/holds.ts): what running calls have reserved. */
describe('agentkey holds', () => {
  let place: Place;
  let id: number;
  beforeAll(async () => {
    place = await openPlace('postgres');
    expect((await run(place, ['migrate'])).code).toBe(0);
  });
  afterAll(() => place.close());

  it('lists open holds (not settled ones) with their total, as a child process and JSON', async () => {
    expect((await run(place, ['holds', 'list'])).out).toBe('no open holds\n');
    const holdId = await place.withStore(async (ak) => {
      const made = await ak.create({ accountId: 'acme', budgetCents: 1000 });
      id = made.id;
      const open = await ak.reserve(made.key, { maxCents: 40 });
      const done = await ak.reserve(made.key, { maxCents: 5 });
      if (!open.ok || !done.ok) throw new Error('reserve refused');
      await ak.settle(done.hold!.id, { costCents: 1 });
      return open.hold!.id;
    });
    const ran = await spawnCli(place, ['holds', 'list', '--key', String(id)]);
    expect(ran).toMatchObject({ code: 0, err: '' });
    expect(ran.out).toMatch(new RegExp(`^${holdId}\\s+${id}\\s+-\\s+acme\\s+\\$0\\.40`, 'm'));
    expect(ran.out).toMatch(/^1 open, \$0\.40 held$/m);
    const listed = await json<HoldInfo[]>(place, ['holds', 'list', '--account', 'acme']);
    expect(listed.map((h) => [h.id, h.keyId, h.amountCents])).toEqual([[holdId, id, 40]]);
  });
});
