import type { Access, AuditQuery, AuditRow } from '@agentkey/access';
import type { Command } from 'commander';
import type { Cli } from '../cli.js';
import { CliError } from '../errors.js';
import * as parse from '../input/parse.js';
import { AUDIT_HEAD, auditCells } from '../output/access-format.js';
import { renderTable } from '../output/table.js';
import { openAccess } from './access-store.js';
import type { CommandGroup } from './group.js';
import { sleep } from './poll.js';

interface AuditCliOptions {
  agent?: number;
  tool?: string;
  since?: (now: Date) => Date;
  until?: (now: Date) => Date;
  limit: number;
  follow?: boolean;
  interval: number;
}

/** The store answers at most this many rows a call: longer reads page on by id. */
const PAGE = 1000;

export const auditGroup: CommandGroup = {
  name: 'audit',
  register(program, cli) {
    program
      .command('audit')
      .description(
        'the access audit log, oldest first: requests, approvals, denials, revocations, vends, proxied calls, secret changes',
      )
      .option('--agent <id>', "only this agent's rows (its key or subject row id)", parse.rowId)
      .option('--tool <id>', "only this tool's rows")
      .option('--since <time>', 'from this time: an ISO date, now, or a duration ago (24h, 7d)', parse.time)
      .option('--until <time>', 'before this time (same forms)', parse.time)
      .option('--limit <n>', 'at most this many rows (without --follow)', parse.count(100_000), 100)
      .option('-f, --follow', 'keep printing new rows as they are written (from --since, else from now)')
      .option('--interval <ms>', 'how often --follow asks for new rows', parse.count(60_000), 500)
      .action(async (o: AuditCliOptions, command: Command) => {
        if (o.follow && o.until) throw new CliError('--follow reads on from now: it takes no --until');
        const access = await openAccess(cli, command);
        const now = new Date();
        const query: AuditQuery = {
          ...(o.agent !== undefined ? { agentId: o.agent } : {}),
          ...(o.tool !== undefined ? { toolId: o.tool } : {}),
          ...(o.until ? { to: o.until(now) } : {}),
        };
        if (o.since) query.from = o.since(now);
        if (o.follow) return follow(cli, command, access, { from: now, ...query }, o.interval);
        const rows = await read(access, query, o.limit + 1);
        const shown = rows.slice(0, o.limit);
        cli.print(command, shown, () =>
          cli.line(
            shown.length === 0 ? 'no audit rows' : renderTable(cli, AUDIT_HEAD, shown.map(auditCells)),
          ),
        );
        if (rows.length > o.limit)
          cli.io.err(`(the first ${o.limit} rows; more with a later --since or a larger --limit)\n`);
      });
  },
};

/** Up to `max` rows of `query`, oldest first, a page at a time. */
async function read(access: Access, query: AuditQuery, max: number): Promise<AuditRow[]> {
  const rows: AuditRow[] = [];
  for (;;) {
    const after = rows.at(-1)?.id;
    const page = await access.audit({
      ...query,
      ...(after !== undefined ? { afterId: after } : {}),
      limit: Math.min(PAGE, max - rows.length),
    });
    rows.push(...page);
    if (page.length < PAGE || rows.length >= max) return rows;
  }
}

/** One line (or one JSON object) per row as it is written, until the run's signal aborts (Ctrl-C). */
async function follow(cli: Cli, command: Command, access: Access, query: AuditQuery, interval: number) {
  const json = cli.globals(command).json === true;
  const signal = cli.io.signal;
  let after: number | undefined;
  while (!signal?.aborted) {
    const page = await access.audit({
      ...query,
      ...(after !== undefined ? { afterId: after } : {}),
      limit: PAGE,
    });
    for (const r of page) cli.line(json ? JSON.stringify(r) : auditCells(r).join('  '));
    after = page.at(-1)?.id ?? after;
    if (page.length < PAGE) await sleep(interval, signal);
  }
}
