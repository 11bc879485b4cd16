import type { Command } from 'commander';
import type { Cli } from '../cli.js';

/**
 * A command group: one file under commands/ that adds its commands to the program. Adding a group
 * (say, `audit`) is that file plus its line in commands/index.ts.
 */
export interface CommandGroup {
  name: string;
  register(program: Command, cli: Cli): void;
}
