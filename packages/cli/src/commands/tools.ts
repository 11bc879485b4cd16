import type { ToolDefinition } from '@agentkey/access';
import { type Command, Option } from 'commander';
import type { Cli } from '../cli.js';
import { CliError } from '../errors.js';
import * as parse from '../input/parse.js';
import { readSecret } from '../input/secret.js';
import { type ToolActions, toolAction } from '../input/tool-action.js';
import { TOOL_HEAD, toolCells, toolFields } from '../output/access-format.js';
import { renderFields, renderTable } from '../output/table.js';
import { addActorOption, humanActor, openAccess, refusal, sealingKeys, sealingKid } from './access-store.js';
import type { CommandGroup } from './group.js';

interface AddOptions {
  name: string;
  baseUrl: string;
  methods: string[];
  paths: string[];
  presentation?: string;
  cost?: number;
  action?: ToolActions;
  replace?: boolean;
  as?: string;
}

/** The store's field names as `tools add` spells them. */
const FLAGS = {
  name: '--name',
  baseUrl: '--base-url',
  presentation: '--presentation',
  methods: '--methods',
  pathPrefixes: '--paths',
  costCents: '--cost',
};

const SECRET_HELP = `
The secret is read from standard input, never from the command line: arguments stay in your
shell's history and in \`ps\` for anyone on the machine. Pipe it in, or type it at the prompt
(nothing is echoed):
  printenv GITHUB_TOKEN | agentkey tools set-secret github
  agentkey tools set-secret github
It is sealed under the first key of AGENTKEY_SECRET_KEYS; a second set-secret rotates it.
`;

export const toolsGroup: CommandGroup = {
  name: 'tools',
  register(program, cli) {
    const tools = program
      .command('tools')
      .description('the upstream tools agents may ask for: list, add, show, set-secret');

    tools
      .command('list')
      .description('the catalog (whether each tool has a secret, never the secret)')
      .action(async (_options, command: Command) => {
        const rows = await (await openAccess(cli, command)).listTools();
        cli.print(command, rows, () =>
          cli.line(rows.length === 0 ? 'no tools yet' : renderTable(cli, TOOL_HEAD, rows.map(toolCells))),
        );
      });

    addActorOption(
      tools
        .command('add')
        .description('add a tool to the catalog (its secret is set apart: tools set-secret)')
        .argument('<id>', 'lower-case letters, digits, _ or -: github, slack')
        .requiredOption('--name <name>', 'a label for people')
        .requiredOption('--base-url <url>', "the tool's origin and base path: https://api.github.com/")
        .option('--methods <list>', 'methods any grant may use', parse.list, ['GET'])
        .option('--paths <list>', 'path prefixes under the base URL any grant may reach', parse.list, ['/'])
        .option(
          '--presentation <header>',
          'how the secret is sent (default "Authorization: Bearer {secret}")',
        )
        .option('--cost <cents>', 'cents charged to the agent per vend or proxied call', parse.priceCents)
        .option(
          '--action <name=METHODS:/prefix,…>',
          'a permit slip action (repeatable), narrower than the tool: repos.read=GET:/repos/ (--replace keeps only those given)',
          toolAction,
        )
        .option('--replace', 'change the definition of a tool that exists'),
    ).action((id: string, options: AddOptions, command: Command) => add(cli, command, id, options));

    tools
      .command('show')
      .description('one tool: base URL, methods, paths, cost, secret version (never the secret)')
      .argument('<id>', 'the tool id')
      .action(async (id: string, _options, command: Command) => {
        const tool = await (await openAccess(cli, command)).getTool(id);
        if (!tool) throw new CliError(`no tool ${JSON.stringify(id)}`);
        cli.print(command, tool, () => cli.line(renderFields(cli, toolFields(tool))));
      });

    addActorOption(
      tools
        .command('set-secret')
        .description("seal a tool's secret, read from stdin or a prompt without echo (never an argument)")
        .argument('<id>', 'the tool id')
        // Exists only so that using it is refused plainly (not as an unknown option).
        .addOption(new Option('--secret <value>').hideHelp())
        .allowExcessArguments(true)
        .addHelpText('after', SECRET_HELP),
    ).action((id: string, options: { as?: string; secret?: string }, command: Command) =>
      setSecret(cli, command, id, options),
    );
  },
};

async function add(cli: Cli, command: Command, id: string, o: AddOptions): Promise<void> {
  const actor = humanActor(o, cli.io.env);
  const access = await openAccess(cli, command);
  const existing = await access.getTool(id);
  if (existing && !o.replace) throw new CliError(`tool ${id} exists: pass --replace to change it`);
  const def: ToolDefinition = {
    id,
    name: o.name,
    baseUrl: o.baseUrl,
    methods: o.methods,
    pathPrefixes: o.paths,
    ...(o.presentation !== undefined ? { presentation: o.presentation } : {}),
    ...(o.cost !== undefined ? { costCents: o.cost } : {}),
    ...(o.action !== undefined ? { actions: o.action } : {}),
  };
  const saved = await access.defineTool(def, actor);
  if (!saved.ok) {
    // The store names an action's field `actions.<name>…`: say it as the flag that set it.
    const message = saved.message.replace(
      /^actions\.(.+?)(?:\.methods|\.pathPrefixes)?(?=:| may| must)/,
      '--action $1',
    );
    throw refusal({ ...saved, message }, `add tool ${id}`, FLAGS);
  }
  cli.print(command, saved.tool, () =>
    cli.line(`${cli.colours.green(existing ? 'changed' : 'added')} tool ${id} (${saved.tool.baseUrl})`),
  );
}

async function setSecret(
  cli: Cli,
  command: Command,
  id: string,
  o: { as?: string; secret?: string },
): Promise<void> {
  // Refused without repeating what was typed: it is a secret, and it is already in the history.
  if (o.secret !== undefined || command.args.length > 1) {
    throw new CliError(
      'refusing a secret on the command line (shell history and `ps` keep it): pipe it on stdin or type it at the prompt',
    );
  }
  const keys = sealingKeys(cli);
  const actor = humanActor(o, cli.io.env);
  const access = await openAccess(cli, command, true);
  const tool = await access.getTool(id);
  if (!tool) throw new CliError(`no tool ${JSON.stringify(id)}`);
  const secret = await readSecret(cli.io, `secret for ${id} (not echoed): `);
  const sealed = await access.setSecret(id, secret, actor);
  if (!sealed.ok) throw refusal(sealed, `set the secret of ${id}`);
  const kid = sealingKid(keys);
  const verb = tool.hasSecret ? 'rotated' : 'sealed';
  cli.print(command, { toolId: id, version: sealed.version, kid }, () =>
    cli.line(`${cli.colours.green(verb)} the secret of ${id} (version ${sealed.version}, key ${kid})`),
  );
}
