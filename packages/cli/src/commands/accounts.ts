import type { AccountInfo, BudgetPeriod } from '@agentkey/core';
import type { Command } from 'commander';
import type { Cli } from '../cli.js';
import { CliError } from '../errors.js';
import * as parse from '../input/parse.js';
import { money, when } from '../output/format.js';
import { renderFields } from '../output/table.js';
import { actorOption } from './access-store.js';
import type { CommandGroup } from './group.js';
import { actor, checkPeriodHasCap } from './row-options.js';

export const accountsGroup: CommandGroup = {
  name: 'accounts',
  register(program, cli) {
    const accounts = program.command('accounts').description('account ceilings shared by all their keys');

    accounts
      .command('show')
      .description("an account's ceiling, spend and holds, and how many keys and subjects it has")
      .argument('<account>', 'the account id')
      .action(async (account: string, _options, command: Command) => {
        const ak = await cli.store(command);
        const [info, rows] = await Promise.all([ak.getAccount(account), ak.listKeys(account)]);
        if (!info && rows.length === 0) throw new CliError(`no account ${JSON.stringify(account)}`);
        const keys = rows.filter((r) => r.kind === 'key' && !r.revokedAt).length;
        const subjects = rows.filter((r) => r.kind === 'subject' && !r.revokedAt).length;
        const value = { accountId: account, ceiling: info, liveKeys: keys, liveSubjects: subjects };
        cli.print(command, value, () => {
          cli.line(
            renderFields(cli, [
              ...ceilingFields(account, info),
              ['live keys', String(keys)],
              ['live subjects', String(subjects)],
            ]),
          );
        });
      });

    accounts
      .command('budget')
      .description("set the account's ceiling (every key's and subject's charge must also fit it)")
      .argument('<account>', 'the account id')
      .requiredOption('--cents <cents>', 'the ceiling in whole cents (none: remove it)', parse.centsOrNone)
      .option('--period <period>', 'renews every day, week or month (none: never)', parse.period)
      .addOption(actorOption())
      .action(
        async (
          account: string,
          o: { cents: parse.Maybe<number>; period?: parse.Maybe<BudgetPeriod>; as?: string },
          command: Command,
        ) => {
          checkPeriodHasCap(o.cents, o.period, '--cents');
          const ak = await cli.store(command);
          const period = o.period === undefined ? {} : { budgetPeriod: parse.orNull(o.period) };
          const budgetCents = parse.orNull(o.cents);
          const info = await ak.setAccountBudget(account, { budgetCents, ...period }, actor(o, cli.io));
          printCeiling(cli, command, info);
        },
      );
  },
};

function ceilingFields(account: string, info: AccountInfo | null): Array<[string, string]> {
  if (!info || info.limitCents === null)
    return [
      ['account', account],
      ['ceiling', 'none'],
    ];
  return [
    ['account', account],
    ['ceiling', `${money(info.limitCents)}${info.period ? ` per ${info.period}` : ''}`],
    ['used', money(info.usedCents)],
    ['held', money(info.heldCents)],
    ['remaining', money(info.remainingCents)],
    ['resets', when(info.resetAt)],
  ];
}

function printCeiling(cli: Cli, command: Command, info: AccountInfo): void {
  cli.print(command, info, () => cli.line(renderFields(cli, ceilingFields(info.accountId, info))));
}
