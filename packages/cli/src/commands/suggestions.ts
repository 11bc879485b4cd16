import type { Command } from 'commander';
import { SUGGESTION_HEAD, suggestionCells } from '../output/access-format.js';
import { renderTable } from '../output/table.js';
import { openAccess } from './access-store.js';
import type { CommandGroup } from './group.js';

export const suggestionsGroup: CommandGroup = {
  name: 'suggestions',
  register(program, cli) {
    program
      .command('suggestions')
      .description('tools agents asked to have added')
      .command('list')
      .description('suggestions grouped by tool name, most wanted first ("3 agents want Linear")')
      .action(async (_options, command: Command) => {
        const rows = await (await openAccess(cli, command)).listSuggestions();
        cli.print(command, rows, () =>
          cli.line(
            rows.length === 0
              ? 'no suggestions'
              : renderTable(cli, SUGGESTION_HEAD, rows.map(suggestionCells)),
          ),
        );
      });
  },
};
