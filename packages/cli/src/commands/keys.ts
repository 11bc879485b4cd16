import type { Command } from 'commander';
import type { Cli } from '../cli.js';
import { CliError } from '../errors.js';
import * as parse from '../input/parse.js';
import { budgetText, money, scopesText, statusOf, when } from '../output/format.js';
import { renderTable } from '../output/table.js';
import { actorOption, addActorOption } from './access-store.js';
import type { CommandGroup } from './group.js';
import {
  actor,
  addRowOptions,
  changesOf,
  checkPeriodHasCap,
  checkUpdatePeriod,
  printRow,
  type RowOptions,
} from './row-options.js';

interface CreateOptions extends RowOptions {
  account: string;
  user?: string;
  poolParent?: number;
  as?: string;
}

export const keysGroup: CommandGroup = {
  name: 'keys',
  register(program, cli) {
    const keys = program.command('keys').description('native API keys: create, list, show, update, revoke');
    addRowOptions(
      keys
        .command('create')
        .description('mint a key; its secret is printed once and never again')
        .requiredOption('--account <id>', 'the account it belongs to')
        .option('--user <id>', 'the user it acts for'),
    )
      .option('--pool-parent <id>', "draw on this key's budget pool", parse.rowId)
      .addOption(actorOption())
      .action((options: CreateOptions, command: Command) => create(cli, command, options));

    keys
      .command('list')
      .description("an account's keys (never their secrets)")
      .requiredOption('--account <id>', 'the account')
      .action(async (options: { account: string }, command: Command) => {
        const ak = await cli.store(command);
        const rows = (await ak.listKeys(options.account)).filter((k) => k.kind === 'key');
        cli.print(command, rows, () => {
          if (rows.length === 0) return cli.line(`no keys in account ${options.account}`);
          const now = new Date();
          cli.line(
            renderTable(
              cli,
              ['id', 'name', 'prefix', 'scopes', 'budget', 'expires', 'status'],
              rows.map((k) => [
                String(k.id),
                k.name,
                k.keyPrefix,
                scopesText(k.scopes),
                budgetText(k.budget),
                when(k.expiresAt),
                statusOf(k, now, cli.colours),
              ]),
            ),
          );
        });
      });

    keys
      .command('show')
      .description('one key: scopes, budget, expiry, status (never its secret)')
      .argument('<id>', 'the key id', parse.rowId)
      .action(async (id: number, _options, command: Command) => {
        const info = await (await cli.store(command)).getKey(id);
        if (!info) throw new CliError(`no key with id ${id}`);
        printRow(cli, command, info);
      });

    addActorOption(
      addRowOptions(keys.command('update').description("change a key's name, scopes, budget or expiry")),
    )
      .argument('<id>', 'the key id', parse.rowId)
      .option('--no-expiry', 'never expires')
      .action(async (id: number, options: RowOptions & { as?: string }, command: Command) => {
        const changes = changesOf(options);
        const ak = await cli.store(command);
        await checkUpdatePeriod(options, () => ak.getKey(id), `no key with id ${id}`);
        const info = await ak.update(id, changes, actor(options, cli.io));
        if (!info) throw new CliError(`no key with id ${id}`);
        printRow(cli, command, info);
      });

    keys
      .command('revoke')
      .description('revoke a key at once (every process stops accepting it)')
      .argument('<id>', 'the key id', parse.rowId)
      .option('--account <id>', 'only if it belongs to this account')
      .addOption(actorOption())
      .action(async (id: number, options: { account?: string; as?: string }, command: Command) => {
        const ak = await cli.store(command);
        const done = await ak.revoke(id, options.account ?? null, actor(options, cli.io));
        if (!done)
          throw new CliError(`key ${id} is not live: no such key, already revoked, or another account's`);
        cli.print(command, { revoked: id }, () => cli.line(`${cli.colours.red('revoked')} key ${id}`));
      });
  },
};

async function create(cli: Cli, command: Command, o: CreateOptions): Promise<void> {
  checkPeriodHasCap(o.budget, o.period, '--budget');
  const capped = o.budget !== undefined && o.budget !== parse.NONE;
  const ak = await cli.store(command);
  const made = await ak.create(
    {
      accountId: o.account,
      ...(o.user !== undefined ? { userId: o.user } : {}),
      ...(o.name !== undefined ? { name: o.name } : {}),
      ...(o.scopes !== undefined ? { scopes: parse.orNull(o.scopes) } : {}),
      // `none` is what create does without the option: no cap, never expires.
      ...(capped ? { budgetCents: o.budget as number } : {}),
      ...(o.period !== undefined ? { budgetPeriod: parse.orNull(o.period) } : {}),
      ...(o.expiresIn !== undefined && o.expiresIn !== parse.NONE ? { expiresIn: o.expiresIn } : {}),
      ...(o.poolParent !== undefined ? { poolParentId: o.poolParent } : {}),
    },
    actor(o, cli.io),
  );
  const c = cli.colours;
  cli.print(command, { ...made, accountId: o.account }, () => {
    cli.line(
      `${c.green('created')} key ${made.id} in account ${o.account} (budget ${money(made.budgetCents)})`,
    );
    cli.line(c.bold(made.key));
    cli.line(c.yellow('Copy it now: this is the only time the secret is shown (the store keeps its hash).'));
  });
}
