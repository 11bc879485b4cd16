import type { BudgetTarget } from '@agentkey/core';
import type { Command } from 'commander';
import { CliError } from '../errors.js';
import * as parse from '../input/parse.js';

export interface TargetOptions {
  key?: number;
  subject?: string;
  account?: string;
}

/** `--key ID | --subject S | --account A`: exactly one names what a budget or usage command is about. */
export function addTargetOptions(command: Command): Command {
  return command
    .option('--key <id>', 'a key', parse.rowId)
    .option('--subject <subject>', 'an external subject')
    .option('--account <id>', "an account (its ceiling, or all its keys' spend)");
}

export function targetOf(options: TargetOptions): { target: BudgetTarget; label: string } {
  const given = [
    options.key !== undefined ? { target: { keyId: options.key }, label: `key ${options.key}` } : null,
    options.subject !== undefined ? { target: { subject: options.subject }, label: options.subject } : null,
    options.account !== undefined
      ? { target: { accountId: options.account }, label: `account ${options.account}` }
      : null,
  ].filter((t) => t !== null);
  if (given.length !== 1)
    throw new CliError('give exactly one of --key <id>, --subject <subject>, --account <id>');
  return given[0]!;
}
