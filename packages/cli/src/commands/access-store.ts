import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { Access, type AccessRefusal, type Actor, parseKeyRing } from '@agentkey/access';
import { isIdent } from '@agentkey/core';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { Cli } from '../cli.js';
import { CliError } from '../errors.js';

/**
 * `@agentkey/access` on the command's store. Only the commands that seal (`tools set-secret`,
 * `secrets reseal`) read AGENTKEY_SECRET_KEYS; every other one gets a ring of one random key that
 * lives for this run, so approving or auditing never needs the sealing keys on the approver's
 * machine (none of those commands seals or opens a secret).
 */
export async function openAccess(cli: Cli, command: Command, sealing = false): Promise<Access> {
  const secretKeys = sealing ? sealingKeys(cli) : `cli-run:${randomBytes(32).toString('base64')}`;
  const ak = await cli.store(command);
  return new Access({ ak, pool: await cli.pool(command), secretKeys });
}

/** AGENTKEY_SECRET_KEYS, checked before anything connects; its first key id seals. */
export function sealingKeys(cli: Cli): string {
  const keys = cli.io.env.AGENTKEY_SECRET_KEYS;
  if (!keys?.trim()) {
    throw new CliError(
      'AGENTKEY_SECRET_KEYS is not set: secrets are sealed with its first key (kid:base64key[,kid:base64key…])',
    );
  }
  parseKeyRing(keys); // a malformed ring is one line naming the entry, never the key material
  return keys;
}

/** The key id that seals now: the first of AGENTKEY_SECRET_KEYS. */
export const sealingKid = (keys: string) => parseKeyRing(keys).primary.kid;

/** `--as NAME`: who the audit log and the ledger record; a mutating command's option. */
export function actorOption(): Option {
  return new Option(
    '--as <name>',
    'who the audit log and ledger record (default: your operating-system user name)',
  ).argParser(actorName);
}

export function addActorOption(command: Command): Command {
  return command.addOption(actorOption());
}

/** A name both logs take: an identifier the ledger stores (core's rule), of at most 100 characters. */
const recordable = (name: string): boolean => name.length <= 100 && isIdent(name);

function actorName(value: string): string {
  const name = value.trim();
  if (!recordable(name))
    throw new InvalidArgumentError(
      'A name is 1-100 printable ASCII characters (the ledger and the audit log both record it).',
    );
  return name;
}

/**
 * Who runs the command: `--as NAME`, else the operating-system user, else $USER — the one name the
 * ledger's admin rows and the access audit log both record. Null when none can be told.
 */
export function whoRuns(
  options: { as?: string },
  env: NodeJS.ProcessEnv,
  osUser: string | null = osUserName(),
): string | null {
  if (options.as !== undefined) return options.as;
  const user = osUser || env.USER || env.USERNAME;
  // A user name the logs cannot record is no name: the caller must say one with --as.
  return user && recordable(user) ? user : null;
}

function osUserName(): string | null {
  try {
    return userInfo().username;
  } catch {
    return null; // No passwd entry (some containers): the environment is asked next.
  }
}

/** The human acting, as the audit log records them; refused when no name can be told. */
export function humanActor(options: { as?: string }, env: NodeJS.ProcessEnv = process.env): Actor {
  const user = whoRuns(options, env);
  if (!user)
    throw new CliError(
      'cannot tell who you are (no user name, or one that is not printable ASCII): pass --as NAME',
    );
  return { kind: 'human', id: user };
}

/**
 * A refusal of the store as the one line: what was tried, then why, with the store's field names
 * turned into this command's flags so that it names what the user typed.
 */
export function refusal(r: AccessRefusal, doing: string, flags: Record<string, string> = {}): CliError {
  let message = r.message;
  for (const [field, flag] of Object.entries(flags)) {
    message = message.replace(new RegExp(`^${field}\\b`), flag);
  }
  return new CliError(`cannot ${doing}: ${message}`);
}
