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
  tab(program, { completionCommandName: 'completion' });
  return program;
}
