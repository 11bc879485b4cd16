import tab from '@bomb.sh/tab/commander';
import { Command, Option } from 'commander';
import type { Cli } from './cli.js';
import { GROUPS } from './commands/index.js';

export const VERSION = '0.3.0';

/** The `agentkey` program: global options, every command group, and shell completion. */
export function buildProgram(cli: Cli): Command {
  const program = new Command('agentkey')
    .description('Mint, inspect, top up and revoke agentkey keys, and see where the money went.')
    .version(VERSION, '-V, --version')
    .addOption(
      new Option('--database-url <url>', 'PostgreSQL to use (default: $DATABASE_URL)').conflicts('pglite'),
    )
    .addOption(
      new Option('--pglite <dir>', "a PGlite folder (default: the gateway's, $AGENTKEY_DATA or ./.agentkey)"),
    )
    .option('--table <name>', 'the keys table, [schema.]name (default: $AGENTKEY_TABLE or sdk_api_keys)')
    .option('--json', 'print JSON instead of tables')
    .showHelpAfterError(false)
    .showSuggestionAfterError(true)
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false });
  for (const group of GROUPS) group.register(program, cli);
  // `agentkey completion bash|zsh|fish|powershell` prints the script; the script calls
  // `agentkey complete -- <words>` (hidden) for suggestions.
  const root = tab(program, { completionCommandName: 'completion' });
  // Global options work after any subcommand (`agentkey keys list --json`): offer them there too
  // (the adapter lists only each command's own).
  const globals = [...root.options.values()].filter((o) => o.value !== 'help' && o.value !== 'version');
  for (const command of root.commands.values())
    for (const o of globals)
      if (!command.options.has(o.value))
        if (o.handler) command.option(o.value, o.description, o.handler, o.alias);
        else command.option(o.value, o.description, o.alias);
  return program;
}
