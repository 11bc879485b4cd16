import type { CommandGroup } from './group.js';

export const migrateGroup: CommandGroup = {
  name: 'migrate',
  register(program, cli) {
    program
      .command('migrate')
      .description('create the tables, or add what an older version lacks (idempotent)')
      .action(async (_options, command) => {
        const ak = await cli.store(command, true);
        await ak.migrate();
        cli.print(command, { migrated: true, table: cli.table }, () =>
          cli.line(`${cli.colours.green('migrated')} ${cli.table} in ${cli.where}`),
        );
      });
  },
};
