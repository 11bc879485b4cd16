import type { Command } from 'commander';
import { CliError } from '../errors.js';
import { addActorOption, humanActor, openAccess, sealingKeys, sealingKid } from './access-store.js';
import type { CommandGroup } from './group.js';

const RESEAL_HELP = `
To rotate the sealing key: put a new kid:base64key first in AGENTKEY_SECRET_KEYS (keep the old
one after it), run this, and drop the old key once it reports nothing failed. The secrets do not
change, only the key they are sealed under; each reseal is in the audit log.
`;

export const secretsGroup: CommandGroup = {
  name: 'secrets',
  register(program, cli) {
    addActorOption(
      program
        .command('secrets')
        .description("tools' sealed secrets")
        .command('reseal')
        .description('seal every secret again under the first key of AGENTKEY_SECRET_KEYS')
        .addHelpText('after', RESEAL_HELP),
    ).action(async (o: { as?: string }, command: Command) => {
      const kid = sealingKid(sealingKeys(cli));
      const actor = humanActor(o, cli.io.env);
      const report = await (await openAccess(cli, command, true)).reseal(actor);
      cli.print(command, { ...report, kid }, () => {
        const c = cli.colours;
        cli.line(
          `${c.green('resealed')} ${report.resealed.length} secret${report.resealed.length === 1 ? '' : 's'} under key ${kid}` +
            ` (${report.current.length} already under it, ${report.failed.length} failed)`,
        );
        for (const f of report.failed) cli.line(`${c.red('failed')} ${f.toolId}: ${f.code}`);
      });
      if (report.failed.length > 0) {
        const names = report.failed.map((f) => `${f.toolId} (${f.code})`).join(', ');
        throw new CliError(
          `${report.failed.length} secret(s) could not be opened: ${names}; keep the old key`,
        );
      }
    });
  },
};
