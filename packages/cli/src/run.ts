import { type Command, CommanderError } from 'commander';
import { Cli } from './cli.js';
import { CliError, flagsOf, oneLine } from './errors.js';
import { type Io, processIo } from './io.js';
import { buildProgram } from './program.js';

/**
 * Runs the CLI once on `argv` (without node and the script) and returns the exit code. Every
 * failure is one line on stderr; the store is closed however the command ends.
 */
export async function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  const cli = new Cli(io);
  const program = buildProgram(cli);
  program.exitOverride();
  program.configureOutput({
    writeOut: (text) => io.out(text),
    writeErr: (text) => io.err(text),
    // Commander's own errors (unknown command, missing argument, bad value), as one line: its
    // "(Did you mean keys?)" joins the line it follows.
    outputError: (text, write) => write(`${text.trim().replace(/\s*\n\s*/g, ' ')}\n`),
  });
  // Subcommands inherit the override and output settings only when made after them: set again.
  for (const command of walk(program)) {
    command.exitOverride();
    command.configureOutput(program.configureOutput());
  }
  // The command that ran, so a refusal can name its flags rather than the library's fields.
  let ran: Command | undefined;
  program.hook('preAction', (_, action) => {
    ran = action;
  });
  // A flag is the command's own or a global one (on a parent); an argument only the command's.
  const hasFlag = (command: Command | null | undefined, flag: string): boolean =>
    !!command && (command.options.some((option) => option.long === flag) || hasFlag(command.parent, flag));
  const flagOf = (field: string) => {
    const flag = flagsOf(field).find((f) =>
      f.startsWith('<') ? ran?.registeredArguments.some((a) => `<${a.name()}>` === f) : hasFlag(ran, f),
    );
    // The table may come from the environment instead.
    return flag === '--table' ? '--table (or AGENTKEY_TABLE)' : flag;
  };
  let code = 0;
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) code = error.exitCode;
    else {
      io.err(`error: ${oneLine(error, cli.where, flagOf)}\n`);
      code = error instanceof CliError ? error.exitCode : 1;
    }
  }
  try {
    await cli.close();
  } catch {
    // The command's answer is out; a close failing after it changes nothing for the user.
  }
  return code;
}

function* walk(command: Command): Generator<Command> {
  for (const sub of command.commands) {
    yield sub;
    yield* walk(sub);
  }
}
