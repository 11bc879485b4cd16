import type { Command } from 'commander';
import { CliError } from '../errors.js';
import * as parse from '../input/parse.js';
import { budgetText, scopesText, statusOf, when } from '../output/format.js';
import { renderTable } from '../output/table.js';
import { actorOption, addActorOption } from './access-store.js';
import type { CommandGroup } from './group.js';
import {
  actor,
  addRowOptions,
  changesOf,
  checkUpdatePeriod,
  printRow,
  type RowOptions,
} from './row-options.js';

export const subjectsGroup: CommandGroup = {
  name: 'subjects',
  register(program, cli) {
    const subjects = program
      .command('subjects')
      .description('external identities (OIDC, Auth0, Clerk subjects) and their budgets');

    subjects
      .command('list')
      .description('subjects provisioned so far, of one account or all')
      .option('--account <id>', 'only this account')
      .option('--limit <n>', 'at most this many', parse.count(10_000), 1000)
      .action(async (options: { account?: string; limit: number }, command: Command) => {
        const ak = await cli.store(command);
        const rows = await ak.listSubjects({ accountId: options.account ?? null, limit: options.limit });
        cli.print(command, rows, () => {
          if (rows.length === 0) return cli.line('no subjects');
          const now = new Date();
          cli.line(
            renderTable(
              cli,
              ['id', 'subject', 'account', 'scopes', 'budget', 'last used', 'status'],
              rows.map((s) => [
                String(s.id),
                s.subject ?? '',
                s.accountId,
                scopesText(s.scopes),
                budgetText(s.budget),
                when(s.lastUsedAt),
                statusOf(s, now, cli.colours),
              ]),
            ),
          );
        });
      });

    subjects
      .command('show')
      .description("one subject's row: scopes, budget, status")
      .argument('<subject>', 'the subject, as its verifier names it (e.g. oidc:https://idp|client-1)')
      .action(async (subject: string, _options, command: Command) => {
        const info = await (await cli.store(command)).getSubject(subject);
        if (!info) throw new CliError(`no subject ${JSON.stringify(subject)}`);
        printRow(cli, command, info);
      });

    addActorOption(
      addRowOptions(subjects.command('update').description("change a subject's scopes, budget or expiry")),
    )
      .argument('<subject>', 'the subject')
      .option('--no-expiry', 'never expires')
      .action(async (subject: string, options: RowOptions & { as?: string }, command: Command) => {
        const changes = changesOf(options);
        const ak = await cli.store(command);
        await checkUpdatePeriod(
          options,
          () => ak.getSubject(subject),
          `no subject ${JSON.stringify(subject)}`,
        );
        const info = await ak.updateSubject(subject, changes, actor(options, cli.io));
        if (!info) throw new CliError(`no subject ${JSON.stringify(subject)}`);
        printRow(cli, command, info);
      });

    subjects
      .command('revoke')
      .description('refuse this subject from now on, whatever token it brings')
      .argument('<subject>', 'the subject')
      .addOption(actorOption())
      .action(async (subject: string, options: { as?: string }, command: Command) => {
        const done = await (await cli.store(command)).revokeSubject(subject, actor(options, cli.io));
        if (!done)
          throw new CliError(`subject ${JSON.stringify(subject)} is not live: unknown or already revoked`);
        cli.print(command, { revoked: subject }, () => cli.line(`${cli.colours.red('revoked')} ${subject}`));
      });
  },
};
