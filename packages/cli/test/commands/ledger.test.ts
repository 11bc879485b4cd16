import { userInfo } from 'node:os';
import type { LedgerEntry } from '@agentkey/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, openPlace, type Place, run, start } from '../support/cli.js';

/** `agentkey ledger` (commands/ledger.ts): the newest entries, and `--follow` tailing new ones. */
describe('agentkey ledger', () => {
  let place: Place;
  let key: string;
  beforeAll(async () => {
    place = await openPlace('postgres');
    expect((await run(place, ['migrate'])).code).toBe(0);
    key = await place.withStore(async (ak) => {
      const made = await ak.create({ accountId: 'acme', budgetCents: 1000 });
      await ak.authorize(made.key, { costCents: 2 });
      await ak.authorize(made.key, { costCents: 3 });
      return made.key;
    });
  });
  afterAll(() => place.close());

  it('prints the newest entries oldest first, as a table and JSON', async () => {
    const ran = await run(place, ['ledger', '--limit', '2']);
    expect(ran.code).toBe(0);
    expect(ran.out.split('\n').filter((l) => /\bcharge\b/.test(l))).toHaveLength(2);
    const entries = await json<LedgerEntry[]>(place, ['ledger', '--account', 'acme']);
    expect(entries.filter((e) => e.kind === 'charge').map((e) => e.amountCents)).toEqual([2, 3]);
  });

  it('--follow (in process) prints a charge made after it started, and stops when its signal aborts', async () => {
    const controller = new AbortController();
    let seen = 0;
    let started!: () => void;
    const begun = new Promise<void>((resolve) => {
      started = resolve;
    });
    const following = run(place, ['ledger', '--follow', '--json', '--limit', '1', '--interval', '50'], {
      signal: controller.signal,
      onOut: (out) => {
        const lines = out.trimEnd().split('\n').filter(Boolean);
        if (lines.length >= 1) started();
        seen = lines.length;
        if (lines.some((l) => (JSON.parse(l) as LedgerEntry).amountCents === 7)) controller.abort();
      },
    });
    await begun;
    await place.withStore((ak) => ak.authorize(key, { costCents: 7 }));
    const ran = await following;
    expect(ran).toMatchObject({ code: 0, err: '' });
    const lines = ran.out
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as LedgerEntry);
    expect(lines.map((e) => e.amountCents)).toEqual([3, 7]);
    expect(seen).toBe(2);
  });

  it('--follow as a child process sees a new charge, and Ctrl-C (SIGINT) ends it with exit 0', async () => {
    const child = start(['ledger', '--follow', '--limit', '1', '--interval', '100', ...place.args], {
      cwd: place.cwd,
      env: place.env,
    });
    // Everything the child prints is kept from the start: a line printed while no one waited (the
    // charge landing before the wait for it began) must still count.
    let out = '';
    let changed = () => {};
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk;
      changed();
    });
    const seen = (pattern: RegExp) =>
      new Promise<void>((resolve) => {
        changed = () => {
          if (pattern.test(out)) resolve();
        };
        changed();
      });
    await seen(/charge/);
    await place.withStore((ak) => ak.authorize(key, { costCents: 11 }));
    await seen(/\$0\.11/);
    child.kill('SIGINT');
    const ran = await child.done;
    expect(ran).toMatchObject({ code: 0, err: '' });
  });

  it("records the same person in the ledger's admin rows as the access audit log does: --as, else the user", async () => {
    // Before, the ledger said `cli:$USER` while the audit log said `human:<os user>` for one person.
    const id = await place.withStore(async (ak) => {
      const made = await ak.create({ accountId: 'who', budgetCents: 1000 });
      await ak.authorize(made.key, { costCents: 4 });
      return made.id;
    });
    expect((await run(place, ['budget', 'topup', '--key', String(id), '--cents', '5'])).code).toBe(0);
    expect((await run(place, ['budget', 'reset', '--key', String(id), '--as', 'alice'])).code).toBe(0);
    const bad = await run(place, ['budget', 'reset', '--key', String(id), '--as', ' ']);
    expect(bad.err).toMatch(/A name is 1-100 printable ASCII characters/);
    const entries = await json<LedgerEntry[]>(place, ['ledger', '--account', 'who']);
    const admin = entries.filter((e) => e.kind.startsWith('admin:') || e.kind === 'adjust');
    expect(admin.find((e) => e.kind === 'admin:topup')?.actor).toBe(userInfo().username);
    expect(admin.filter((e) => e.kind !== 'admin:topup').map((e) => e.actor)).toContain('alice');
    // keys create records its maker too (before, its admin:create row had no actor).
    const made = await json<{ id: number }>(place, ['keys', 'create', '--account', 'who', '--as', 'carol']);
    const created = (await json<LedgerEntry[]>(place, ['ledger', '--account', 'who'])).find(
      (e) => e.kind === 'admin:create' && e.keyId === made.id,
    );
    expect(created?.actor).toBe('carol');
    // A name the ledger cannot take is refused by its flag, and nothing is made.
    const wide = await run(place, ['keys', 'create', '--account', 'who', '--as', 'Zoë']);
    expect(wide).toMatchObject({ code: 1, out: '' });
    expect(wide.err).toMatch(/argument 'Zoë' is invalid\. A name is 1-100 printable ASCII characters/);
    // A user name the logs cannot take is no name: the ledger says `cli`, the audit log asks for --as.
    const { whoRuns } = await import('../../src/commands/access-store.js');
    expect(whoRuns({}, { USER: 'José' }, null)).toBeNull();
    expect(whoRuns({}, {}, 'José')).toBeNull();
    expect(whoRuns({}, { USER: 'bob' }, null)).toBe('bob');
    expect(whoRuns({}, { USER: 'bob' }, 'alice')).toBe('alice');
    expect(whoRuns({ as: 'ops' }, {}, 'alice')).toBe('ops');
    expect(await place.withStore((ak) => ak.listKeys('who'))).toHaveLength(2);
    // The audit log's actor for a mutating access command, by the same person.
    const { humanActor } = await import('../../src/commands/access-store.js');
    expect(humanActor({}, {})).toEqual({ kind: 'human', id: userInfo().username });
  });

  it('--follow lines keep their columns whatever the kind (a charge, an admin top-up, an adjust)', async () => {
    const made = await place.withStore(async (ak) => {
      const k = await ak.create({ accountId: 'cols', budgetCents: 1000 }, { actor: 'ops' });
      await ak.authorize(k.key, { costCents: 3 });
      await ak.topUp({ keyId: k.id }, 5, { actor: 'ops' });
      await ak.resetBudget({ keyId: k.id }, { actor: 'ops' });
      return k;
    });
    const stop = new AbortController();
    const ran = run(place, ['ledger', '--follow', '--account', 'cols', '--limit', '10', '--interval', '50'], {
      signal: stop.signal,
      onOut: (out) => {
        if (out.trimEnd().split('\n').length >= 4) stop.abort();
      },
    });
    const lines = (await ran).out.trimEnd().split('\n');
    expect(lines.map((l) => l.trim().split(/\s+/)[2])).toEqual([
      'admin:create',
      'charge',
      'admin:topup',
      'adjust',
    ]);
    // The amounts end in one column (right-aligned), and the key's column starts in one column.
    const end = (l: string) => {
      const m = /-?\$\d+\.\d{2}/.exec(l)!;
      return m.index + m[0].length;
    };
    expect(new Set(lines.map(end)).size).toBe(1);
    expect(new Set(lines.map((l) => l.search(new RegExp(`\\s${made.id}\\s`)))).size).toBe(1);
  });
});
