import type { Command } from 'commander';
import * as parse from '../input/parse.js';
import { money, when } from '../output/format.js';
import { renderTable } from '../output/table.js';
import type { CommandGroup } from './group.js';

export const holdsGroup: CommandGroup = {
  name: 'holds',
  register(program, cli) {
    const holds = program
      .command('holds')
      .description('money reserved by calls still running (streamed LLM calls)');
    holds
      .command('list')
      .description('holds still open and counting against a cap')
      .option('--account <id>', 'of this account')
      .option('--key <id>', 'of this key (or its pool)', parse.rowId)
      .option('--limit <n>', 'at most this many', parse.count(10_000), 1000)
      .action(async (o: { account?: string; key?: number; limit: number }, command: Command) => {
        const ak = await cli.store(command);
        const rows = await ak.listHolds({
          accountId: o.account ?? null,
          keyId: o.key ?? null,
          limit: o.limit,
        });
        cli.print(command, rows, () => {
          if (rows.length === 0) return cli.line('no open holds');
          cli.line(
            renderTable(
              cli,
              ['hold', 'key', 'subject', 'account', 'amount', 'created', 'expires'],
              rows.map((h) => [
                h.id,
                String(h.keyId),
                h.subject ?? '-',
                h.accountId ?? '-',
                money(h.amountCents),
                when(h.createdAt),
                when(h.expiresAt),
              ]),
            ),
          );
          const total = rows.reduce((sum, h) => sum + h.amountCents, 0);
          cli.line(`${rows.length} open, ${money(total)} held`);
        });
      });
  },
};
