import type { Command } from 'commander';
import * as parse from '../input/parse.js';
import { GRANT_HEAD, grantCells } from '../output/access-format.js';
import { renderTable } from '../output/table.js';
import { addActorOption, humanActor, openAccess, refusal } from './access-store.js';
import type { CommandGroup } from './group.js';

export const grantsGroup: CommandGroup = {
  name: 'grants',
  register(program, cli) {
    const grants = program
      .command('grants')
      .description('approved requests: list, revoke (a grant has its request id)');

    grants
      .command('list')
      .description('live grants, newest first (--all: revoked and expired ones too)')
      .option('--tool <id>', 'only for this tool')
      .option('--all', 'also the revoked and expired grants')
      .action(async (o: { tool?: string; all?: boolean }, command: Command) => {
        const access = await openAccess(cli, command);
        const statuses = o.all ? (['granted', 'revoked', 'expired'] as const) : (['granted'] as const);
        const lists = await Promise.all(
          statuses.map((status) => access.listRequests({ status, ...(o.tool ? { toolId: o.tool } : {}) })),
        );
        const rows = lists.flat().sort((a, b) => b.id - a.id);
        cli.print(command, rows, () =>
          cli.line(
            rows.length === 0
              ? 'no grants'
              : renderTable(
                  cli,
                  GRANT_HEAD,
                  rows.map((g) => grantCells(g, cli.colours)),
                ),
          ),
        );
      });

    addActorOption(
      grants
        .command('revoke')
        .description("revoke a grant at once: the agent's next vend or proxied call is refused")
        .argument('<id>', 'the grant id', parse.idOf('grant')),
    ).action(async (id: number, o: { as?: string }, command: Command) => {
      const actor = humanActor(o, cli.io.env);
      const revoked = await (await openAccess(cli, command)).revokeGrant(id, { actor });
      if (!revoked.ok) throw refusal(revoked, `revoke grant ${id}`);
      cli.print(command, revoked.grant, () =>
        cli.line(
          `${cli.colours.red('revoked')} grant ${id} (${revoked.grant.toolId} for ${revoked.grant.agent})`,
        ),
      );
    });
  },
};
