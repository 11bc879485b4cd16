import type { BudgetPeriod, BudgetTarget } from '@agentkey/core';
import type { Command } from 'commander';
import type { Cli } from '../cli.js';
import { CliError } from '../errors.js';
import * as parse from '../input/parse.js';
import { budgetText, money } from '../output/format.js';
import { addActorOption } from './access-store.js';
import type { CommandGroup } from './group.js';
import { actor, checkPeriodHasCap } from './row-options.js';
import { addTargetOptions, type TargetOptions, targetOf } from './target.js';

export const budgetGroup: CommandGroup = {
  name: 'budget',
  register(program, cli) {
    const budget = program
      .command('budget')
      .description('top up, set or reset the cap of a key, subject or account');

    addActorOption(addTargetOptions(budget.command('topup').description('raise the cap by some cents')))
      .requiredOption('--cents <cents>', 'how much to add, in whole cents', parse.cents)
      .action(async (o: TargetOptions & { cents: number; as?: string }, command: Command) => {
        const { target, label } = targetOf(o);
        if (o.cents === 0) throw new CliError('--cents must be more than 0 for a top-up');
        const ak = await cli.store(command);
        if (!(await ak.topUp(target, o.cents, actor(o, cli.io))))
          throw new CliError(`${label}: no such row, or it has no cap to raise`);
        await report(cli, command, target, label, `topped up by ${money(o.cents)}`);
      });

    addActorOption(addTargetOptions(budget.command('set').description('set the cap (and period)')))
      .requiredOption('--cents <cents>', 'the cap in whole cents (none: no cap)', parse.centsOrNone)
      .option('--period <period>', 'renews every day, week or month (none: never)', parse.period)
      .action(
        async (
          o: TargetOptions & { cents: parse.Maybe<number>; period?: parse.Maybe<BudgetPeriod>; as?: string },
          command: Command,
        ) => {
          const { target, label } = targetOf(o);
          checkPeriodHasCap(o.cents, o.period, '--cents');
          const ak = await cli.store(command);
          const period = o.period === undefined ? {} : { budgetPeriod: parse.orNull(o.period) };
          const budgetCents = parse.orNull(o.cents);
          if (!(await ak.setBudget(target, { budgetCents, ...period }, actor(o, cli.io))))
            throw new CliError(`${label}: no such row`);
          await report(cli, command, target, label, `cap set to ${money(budgetCents)}`);
        },
      );

    addActorOption(
      addTargetOptions(
        budget.command('reset').description("zero the current period's spend (the ledger records it)"),
      ),
    ).action(async (o: TargetOptions & { as?: string }, command: Command) => {
      const { target, label } = targetOf(o);
      const ak = await cli.store(command);
      if (!(await ak.resetBudget(target, actor(o, cli.io)))) throw new CliError(`${label}: no such row`);
      await report(cli, command, target, label, 'spend reset to $0.00');
    });
  },
};

/** What the change left: the row's (or account's) budget as it now stands. */
async function report(
  cli: Cli,
  command: Command,
  target: BudgetTarget,
  label: string,
  what: string,
): Promise<void> {
  const ak = await cli.store(command);
  const budget =
    'accountId' in target
      ? await ak.getAccount(target.accountId)
      : (('keyId' in target ? await ak.getKey(target.keyId) : await ak.getSubject(target.subject))?.budget ??
        null);
  cli.print(command, { target, budget }, () =>
    cli.line(`${label}: ${cli.colours.green(what)}${budget ? `; now ${budgetText(budget)}` : ''}`),
  );
}
