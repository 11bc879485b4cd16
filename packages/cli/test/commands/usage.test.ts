import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, openPlace, type Place, run, spawnCli } from '../support/cli.js';

/** `agentkey usage` (commands/usage.ts, output/chart.ts): spend per bucket, a table and a bar chart. */
describe('agentkey usage', () => {
  let place: Place;
  let id: number;
  beforeAll(async () => {
    place = await openPlace('postgres');
    expect((await run(place, ['migrate'])).code).toBe(0);
    let t = new Date('2026-06-01T10:15:00Z');
    const now = () => t;
    id = await place.withStore(
      async (ak) => {
        const made = await ak.create({ accountId: 'acme', budgetCents: 100_000 });
        await ak.authorize(made.key, { costCents: 120 });
        t = new Date('2026-06-01T13:00:00Z');
        await ak.authorize(made.key, { costCents: 30 });
        t = new Date('2026-06-03T09:00:00Z');
        await ak.authorize(made.key, { costCents: 600 });
        return made.id;
      },
      { now },
    );
  });
  afterAll(() => place.close());
  const range = ['--since', '2026-06-01', '--until', '2026-06-04'];

  it('prints a row and a bar per day, quiet days included, and the total, as a child process', async () => {
    const ran = await spawnCli(place, ['usage', '--key', String(id), ...range, '--by', 'day']);
    expect(ran).toMatchObject({ code: 0, err: '' });
    expect(ran.out).toMatch(/^2026-06-01\s+\$1\.50$/m);
    expect(ran.out).toMatch(/^2026-06-02\s+\$0\.00$/m);
    expect(ran.out).toMatch(/^2026-06-03\s+\$6\.00$/m);
    const bars = ran.out.split('\n').filter((l) => /^2026-06-0\d ╢/.test(l));
    expect(bars).toHaveLength(3);
    const length = (day: string) => (bars.find((l) => l.startsWith(day))!.match(/█/g) ?? []).length;
    // The chart's bars are to scale: the 3rd is 4 times the 1st, the quiet day has none.
    expect(length('2026-06-03')).toBeGreaterThan(3 * length('2026-06-01'));
    expect(length('2026-06-02')).toBe(0);
    expect(ran.out).toMatch(/total \$7\.50\n$/);
    expect(ran.out).not.toMatch(/\u001b\[3\dm/); // no colour into a pipe
  });

  it('reports hours and the account as JSON', async () => {
    const hours = await json<{ totalCents: number; buckets: Array<{ start: string; cents: number }> }>(
      place,
      [
        'usage',
        '--account',
        'acme',
        '--since',
        '2026-06-01T10:00:00Z',
        '--until',
        '2026-06-01T14:00:00Z',
        '--by',
        'hour',
      ],
    );
    expect(hours.totalCents).toBe(150);
    expect(hours.buckets.map((b) => [b.start, b.cents])).toEqual([
      ['2026-06-01T10:00:00.000Z', 120],
      ['2026-06-01T11:00:00.000Z', 0],
      ['2026-06-01T12:00:00.000Z', 0],
      ['2026-06-01T13:00:00.000Z', 30],
    ]);
  });

  it('refuses a bad range, bucket or time in one line', async () => {
    const cases: Array<[string[], RegExp]> = [
      [
        ['usage', '--key', String(id), '--since', '2026-06-04', '--until', '2026-06-01'],
        /--since must be before --until/,
      ],
      [
        ['usage', '--key', String(id), '--by', 'week'],
        /argument 'week' is invalid. Allowed choices are hour, day/,
      ],
      [['usage', '--key', String(id), '--since', 'yesterday'], /argument 'yesterday' is invalid. A time is/],
      [['usage', '--since', '7d'], /give exactly one of/],
      // A key or subject that is not there: said so (it printed a week of zeros).
      [['usage', '--key', '999999'], /^error: no key with id 999999$/m],
      [['usage', '--subject', 'idp|nobody'], /^error: no subject "idp\|nobody"$/m],
      // A day the calendar lacks, refused rather than rolled over to March 2.
      [
        ['usage', '--key', String(id), '--since', '2026-02-30'],
        /argument '2026-02-30' is invalid. A time is/,
      ],
      [
        ['usage', '--key', String(id), '--until', '2026-13-01'],
        /argument '2026-13-01' is invalid. A time is/,
      ],
      // Not ISO (a space for the T), and a time the clock lacks.
      [['usage', '--key', String(id), '--since', '2026-04-30 10:00'], /is invalid. A time is/],
      [['usage', '--key', String(id), '--since', '2026-04-30T24:00'], /is invalid. A time is/],
    ];
    for (const [argv, message] of cases) {
      const ran = await run(place, argv);
      expect(ran.code, argv.join(' ')).toBe(1);
      expect(ran.err.trimEnd().split('\n')).toHaveLength(1);
      expect(ran.err).toMatch(message);
    }
  });
});
