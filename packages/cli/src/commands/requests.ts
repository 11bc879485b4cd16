import type { GrantInfo, Narrowing } from '@agentkey/access';
import { type Command, Option } from 'commander';
import type { Cli } from '../cli.js';
import { CliError } from '../errors.js';
import * as parse from '../input/parse.js';
import { REQUEST_HEAD, requestCells } from '../output/access-format.js';
import { money, when } from '../output/format.js';
import { renderTable } from '../output/table.js';
import { addActorOption, humanActor, openAccess, refusal } from './access-store.js';
import type { CommandGroup } from './group.js';

const STATUSES = ['pending', 'granted', 'denied', 'revoked', 'expired'] as const;
const requestId = parse.idOf('request');

interface ApproveOptions {
  expiresIn?: string;
  budget?: number;
  methods?: string[];
  rateLimit?: number;
  rateWindow?: number;
  note?: string;
  as?: string;
}

/** The store's narrowing fields as `requests approve` spells them. */
const FLAGS = {
  expiresIn: '--expires-in',
  budgetCents: '--budget',
  methods: '--methods',
  rateLimit: '--rate-limit',
  note: '--note',
};

export const requestsGroup: CommandGroup = {
  name: 'requests',
  register(program, cli) {
    const requests = program
      .command('requests')
      .description("agents' requests for tools: list, approve (narrowed as you like), deny");

    requests
      .command('list')
      .description('requests and the grants they became, newest first')
      .addOption(new Option('--status <status>', 'only these').choices(STATUSES))
      .option('--tool <id>', 'only for this tool')
      .option('--agent <id>', "only this agent's (its key or subject row id)", parse.rowId)
      .action(
        async (o: { status?: GrantInfo['status']; tool?: string; agent?: number }, command: Command) => {
          const rows = await (await openAccess(cli, command)).listRequests({
            ...(o.status ? { status: o.status } : {}),
            ...(o.tool ? { toolId: o.tool } : {}),
            ...(o.agent ? { agentId: o.agent } : {}),
          });
          cli.print(command, rows, () =>
            cli.line(
              rows.length === 0
                ? 'no requests'
                : renderTable(
                    cli,
                    REQUEST_HEAD,
                    rows.map((g) => requestCells(g, cli.colours)),
                  ),
            ),
          );
        },
      );

    addActorOption(
      requests
        .command('approve')
        .description('grant a pending request; each option narrows what the agent asked for, never widens it')
        .argument('<id>', 'the request id', requestId)
        .option('--expires-in <duration>', 'the grant ends this long from now: 10s, 15m, 2h, 7d')
        .option('--budget <cents>', 'whole cents the grant may spend in all', parse.cents)
        .option('--methods <list>', "methods allowed, among the tool's: GET,POST", parse.list)
        .option('--rate-limit <calls>', 'vends and proxied calls per window', parse.count(1_000_000))
        .option('--rate-window <seconds>', 'the window of --rate-limit (default 60)', parse.count(86_400))
        .option('--note <text>', 'why, for the record'),
    ).action((id: number, o: ApproveOptions, command: Command) => approve(cli, command, id, o));

    addActorOption(
      requests
        .command('deny')
        .description('deny a pending request')
        .argument('<id>', 'the request id', requestId)
        .option('--reason <text>', 'why, for the record (the agent sees the status)'),
    ).action(async (id: number, o: { reason?: string; as?: string }, command: Command) => {
      const actor = humanActor(o, cli.io.env);
      const access = await openAccess(cli, command);
      const denied = await access.deny(id, { actor }, o.reason);
      if (!denied.ok) throw refusal(denied, `deny request ${id}`, { note: '--reason' });
      cli.print(command, denied.request, () =>
        cli.line(
          `${cli.colours.red('denied')} request ${id} (${denied.request.toolId} for ${denied.request.agent})`,
        ),
      );
    });
  },
};

async function approve(cli: Cli, command: Command, id: number, o: ApproveOptions): Promise<void> {
  if (o.rateWindow !== undefined && o.rateLimit === undefined)
    throw new CliError('--rate-window needs --rate-limit');
  const actor = humanActor(o, cli.io.env);
  const narrowing: Narrowing = {
    ...(o.expiresIn !== undefined ? { expiresIn: o.expiresIn } : {}),
    ...(o.budget !== undefined ? { budgetCents: o.budget } : {}),
    ...(o.methods !== undefined ? { methods: o.methods } : {}),
    ...(o.rateLimit !== undefined
      ? { rateLimit: { requests: o.rateLimit, ...(o.rateWindow ? { windowSec: o.rateWindow } : {}) } }
      : {}),
    ...(o.note !== undefined ? { note: o.note } : {}),
  };
  const access = await openAccess(cli, command);
  const approved = await access.approve(id, { actor }, narrowing);
  if (!approved.ok) throw refusal(approved, `approve request ${id}`, FLAGS);
  const g = approved.grant;
  cli.print(command, g, () =>
    cli.line(
      `${cli.colours.green('approved')} request ${id}: ${g.toolId} for ${g.agent}, ${g.methods?.join(',')}, ` +
        `expires ${when(g.expiresAt)}, budget ${money(g.budgetCents)}`,
    ),
  );
}
