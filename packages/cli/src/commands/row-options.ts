import type { AuditOptions, BudgetPeriod, KeyInfo, UpdateOptions } from '@agentkey/core';
import { type Command, Option } from 'commander';
import type { Cli } from '../cli.js';
import { CliError } from '../errors.js';
import * as parse from '../input/parse.js';
import { type Maybe, NONE, orNull } from '../input/parse.js';
import type { Io } from '../io.js';
import { keyFields } from '../output/format.js';
import { renderFields } from '../output/table.js';
import { whoRuns } from './access-store.js';

/** The options a key's or subject's row can be changed by (create and update share them). */
export interface RowOptions {
  name?: string;
  scopes?: Maybe<string[]>;
  budget?: Maybe<number>;
  period?: Maybe<BudgetPeriod>;
  expiresIn?: Maybe<string>;
  expiry?: boolean;
}

export function addRowOptions(command: Command): Command {
  return command
    .option('--name <name>', 'a label for people')
    .option('--scopes <list>', 'comma-separated scopes (all: unrestricted, none: no scope)', parse.scopes)
    .option('--budget <cents>', 'its cap in whole cents (none: no cap)', parse.centsOrNone)
    .option('--period <period>', 'the cap renews every day, week or month (none: never)', parse.period)
    .addOption(
      new Option('--expires-in <duration>', 'expires after 30m, 12h, 7d, 3mo… (none: never)').argParser(
        parse.lifetime,
      ),
    );
}

/** The changes an update asks for; refuses an update that asks for none. */
export function changesOf(options: RowOptions): UpdateOptions {
  const changes: UpdateOptions = {};
  if (options.name !== undefined) changes.name = options.name;
  if (options.scopes !== undefined) changes.scopes = orNull(options.scopes);
  if (options.budget !== undefined) changes.budgetCents = orNull(options.budget);
  if (options.period !== undefined) changes.budgetPeriod = orNull(options.period);
  if (options.expiresIn === NONE) changes.expiresAt = null;
  else if (options.expiresIn !== undefined) changes.expiresIn = options.expiresIn;
  if (options.expiry === false) {
    if (options.expiresIn !== undefined) throw new CliError('give --expires-in or --no-expiry, not both');
    changes.expiresAt = null;
  }
  if (Object.keys(changes).length === 0) {
    throw new CliError(
      'nothing to change: give --name, --scopes, --budget, --period, --expires-in or --no-expiry',
    );
  }
  return changes;
}

/**
 * A period renews a cap: with no cap (none given, `none`, or none on the row when `rowCapped` is
 * false) it renews nothing, and was most likely meant with one. `flag` is the command's cap flag.
 */
export function checkPeriodHasCap(
  budget: Maybe<number> | undefined,
  period: Maybe<BudgetPeriod> | undefined,
  flag: '--budget' | '--cents',
  rowCapped = false,
): void {
  if (period === undefined || period === NONE) return;
  if (budget === NONE) throw new CliError(`--period renews a cap: it cannot go with ${flag} none`);
  if (budget === undefined && !rowCapped) throw new CliError(`--period renews a cap: give ${flag} too`);
}

/**
 * checkPeriodHasCap for an update: a period given alone is checked against the row's own cap,
 * read with `read` (`missing` when there is no such row).
 */
export async function checkUpdatePeriod(
  options: RowOptions,
  read: () => Promise<{ budget: { limitCents: number | null } } | null>,
  missing: string,
): Promise<void> {
  if (options.period === undefined || options.budget !== undefined)
    return checkPeriodHasCap(options.budget, options.period, '--budget');
  const row = await read();
  if (!row) throw new CliError(missing);
  checkPeriodHasCap(undefined, options.period, '--budget', row.budget.limitCents !== null);
}

/**
 * Who made an admin change, for the ledger's audit rows: the same name the access audit log
 * records for this person (`--as`, else the user running the command; `cli` when none is known).
 */
export function actor(options: { as?: string }, io: Io): AuditOptions {
  return { actor: whoRuns(options, io.env) ?? 'cli' };
}

/** A key's or subject's row as `show` and `update` print it: its fields, or JSON (never a secret: the store has none). */
export function printRow(cli: Cli, command: Command, info: KeyInfo): void {
  cli.print(command, info, () => cli.line(renderFields(cli, keyFields(info, new Date(), cli.colours))));
}
