import { type Command, Option } from 'commander';
import { CliError } from '../errors.js';
import * as parse from '../input/parse.js';
import { spendChart } from '../output/chart.js';
import { money } from '../output/format.js';
import { renderTable } from '../output/table.js';
import type { CommandGroup } from './group.js';
import { addTargetOptions, type TargetOptions, targetOf } from './target.js';

interface UsageOptions extends TargetOptions {
  since: (now: Date) => Date;
  until: (now: Date) => Date;
  by: 'hour' | 'day';
}

const STEP_MS = { hour: 3_600_000, day: 86_400_000 } as const;
/** More buckets than this are shown as they come (only those with spend), not gap-filled. */
const MAX_FILLED = 400;

export const usageGroup: CommandGroup = {
  name: 'usage',
  register(program, cli) {
    addTargetOptions(
      program
        .command('usage')
        .description('spend of a key, subject or account per hour or day: a table and a bar chart'),
    )
      .addOption(
        new Option('--since <time>', 'from (ISO date, or a duration ago: 24h, 7d)')
          .argParser(parse.time)
          .default(parse.time('7d'), '7d'),
      )
      .addOption(
        new Option('--until <time>', 'to (ISO date, now, or a duration ago)')
          .argParser(parse.time)
          .default(parse.time('now'), 'now'),
      )
      .addOption(new Option('--by <bucket>', 'bucket size').choices(['hour', 'day']).default('day'))
      .action(async (o: UsageOptions, command: Command) => {
        const { target, label } = targetOf(o);
        const now = new Date();
        const from = o.since(now);
        const to = o.until(now);
        if (from >= to) throw new CliError('--since must be before --until');
        const ak = await cli.store(command);
        // A key or subject that is not there has no spend to show: say so, not a chart of zeros.
        if ('keyId' in target && !(await ak.getKey(target.keyId)))
          throw new CliError(`no key with id ${target.keyId}`);
        if ('subject' in target && !(await ak.getSubject(target.subject)))
          throw new CliError(`no subject ${JSON.stringify(target.subject)}`);
        const report = await ak.spend(target, { from, to, groupBy: o.by });
        const buckets = fill(report.buckets ?? [], from, to, o.by);
        const value = { target, since: from, until: to, by: o.by, totalCents: report.totalCents, buckets };
        cli.print(command, value, () => {
          const labelOf = (d: Date) =>
            o.by === 'day' ? d.toISOString().slice(0, 10) : `${d.toISOString().slice(0, 13)}:00Z`;
          cli.line(`spend of ${label}, ${from.toISOString()} to ${to.toISOString()}, by ${o.by}`);
          cli.line(
            renderTable(
              cli,
              [o.by, 'spend'],
              buckets.map((b) => [labelOf(b.start), money(b.cents)]),
            ),
          );
          cli.line();
          cli.line(
            spendChart(
              cli,
              buckets.map((b) => ({ label: labelOf(b.start), cents: b.cents })),
            ),
          );
          cli.line(`total ${cli.colours.bold(money(report.totalCents))}`);
        });
      });
  },
};

/** Every bucket from `from` to `to`, zero where nothing was spent, so the chart shows the quiet hours too. */
function fill(buckets: Array<{ start: Date; cents: number }>, from: Date, to: Date, by: 'hour' | 'day') {
  const step = STEP_MS[by];
  const first = Math.floor(from.getTime() / step) * step;
  const count = Math.ceil((to.getTime() - first) / step);
  if (count > MAX_FILLED) return buckets;
  const spent = new Map(buckets.map((b) => [b.start.getTime(), b.cents]));
  return Array.from({ length: count }, (_, i) => {
    const start = first + i * step;
    return { start: new Date(start), cents: spent.get(start) ?? 0 };
  });
}
