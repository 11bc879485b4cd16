import { openAccess } from './access-store.js';
import type { CommandGroup } from './group.js';

export const migrateGroup: CommandGroup = {
  name: 'migrate',
  register(program, cli) {
    program
      .command('migrate')
      .description(
        'create the tables (keys, ledger, access), or add what an older version lacks (idempotent)',
      )
      .option(
        '--concurrently',
        'build new indexes with CREATE INDEX CONCURRENTLY first, so large tables keep taking writes (PostgreSQL)',
      )
      .action(async (options: { concurrently?: boolean }, command) => {
        const ak = await cli.store(command, true);
        await ak.migrate({ concurrently: options.concurrently === true });
        // The access tables refer to the keys table, so they come after it; numbered and recorded,
        // so running this again applies nothing twice.
        await (await openAccess(cli, command)).migrate();
        cli.print(command, { migrated: true, table: cli.table, access: true }, () =>
          cli.line(`${cli.colours.green('migrated')} ${cli.table} in ${cli.where}`),
        );
      });
  },
};
