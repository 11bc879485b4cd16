export type { Cli } from './cli.js';
export type { CommandGroup } from './commands/group.js';
export { CliError } from './errors.js';
export type { Io } from './io.js';
export { main } from './run.js';
