import type { AgentKey, LedgerEntry } from '@agentkey/core';
import type { Command } from 'commander';
import type { Cli } from '../cli.js';
import * as parse from '../input/parse.js';
import { money, when } from '../output/format.js';
import { renderTable } from '../output/table.js';
import type { CommandGroup } from './group.js';
import { sleep } from './poll.js';

interface LedgerCliOptions {
  account?: string;
  limit: number;
  follow?: boolean;
  interval: number;
}

export const ledgerGroup: CommandGroup = {
  name: 'ledger',
  register(program, cli) {
    program
      .command('ledger')
      .description('the append-only ledger: the newest entries, or --follow to tail new ones (Ctrl-C stops)')
      .option('--account <id>', 'only this account')
      .option('--limit <n>', 'how many of the newest to show first', parse.count(10_000), 20)
      .option('-f, --follow', 'keep printing new entries as they are written')
      .option('--interval <ms>', 'how often --follow asks for new entries', parse.count(60_000), 500)
      .action(async (o: LedgerCliOptions, command: Command) => {
        const ak = await cli.store(command);
        const json = cli.globals(command).json === true;
        const first = await ak.ledger({ accountId: o.account ?? null, limit: o.limit });
        if (!o.follow) {
          return cli.print(command, first, () =>
            cli.line(first.length === 0 ? 'the ledger is empty' : renderTable(cli, HEAD, first.map(row))),
          );
        }
        // Following: one line (or one JSON object) per entry, so a pipe reads them as they come.
        const emit = (e: LedgerEntry) => cli.line(json ? JSON.stringify(e) : line(cli, e));
        first.forEach(emit);
        await follow(cli, ak, o, first.at(-1)?.id ?? (await lastId(ak, o.account)), emit);
      });
  },
};

const HEAD = ['id', 'at', 'kind', 'amount', 'key', 'subject', 'account', 'actor'];

function row(e: LedgerEntry): string[] {
  return [
    e.id,
    when(e.at),
    e.kind,
    money(e.amountCents),
    e.keyId === null ? '-' : String(e.keyId),
    e.subject ?? '-',
    e.accountId ?? '-',
    e.actor ?? '-',
  ];
}

/** The widest kind (`admin:account_rate_limit`): every followed line's amount starts in one column. */
const KIND_WIDTH = 24;

function line(cli: Cli, e: LedgerEntry): string {
  const [id, at, kind, amount, ...rest] = row(e);
  const c = cli.colours;
  // Padded before colouring: a colour's escape codes take no room on screen.
  const padded = amount!.padStart(10);
  const coloured = e.amountCents < 0 ? c.green(padded) : e.amountCents > 0 ? c.yellow(padded) : padded;
  return [c.dim(id!.padStart(6)), at, kind!.padEnd(KIND_WIDTH), coloured, ...rest].join('  ');
}

/** The id to tail from when nothing was shown yet: the last one of the whole ledger (0 if empty). */
async function lastId(ak: AgentKey, account: string | undefined): Promise<string> {
  const [last] = await ak.ledger({ accountId: account ?? null, limit: 1 });
  return last?.id ?? '0';
}

/** Polls for entries after the last one seen until the run's signal aborts (Ctrl-C): then returns. */
async function follow(
  cli: Cli,
  ak: AgentKey,
  o: LedgerCliOptions,
  from: string,
  emit: (e: LedgerEntry) => void,
) {
  const signal = cli.io.signal;
  let after = from;
  while (!signal?.aborted) {
    const entries = await ak.ledger({ afterId: after, accountId: o.account ?? null, limit: 1000 });
    entries.forEach(emit);
    if (entries.length > 0) after = entries.at(-1)!.id;
    if (entries.length < 1000) await sleep(o.interval, signal);
  }
}
