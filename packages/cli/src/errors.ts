import { AgentKeyInputError, AgentKeyTimeoutError } from '@agentkey/core';

/** An expected failure of a command: its message is the one line the user sees. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

const NETWORK = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'ECONNRESET',
]);

/**
 * Any error as one line, without a stack: what the user did wrong or what is down. `where` names
 * the database for connection failures (never its password).
 */
export function oneLine(
  error: unknown,
  where = 'the database',
  flagOf: (field: string) => string | undefined = () => undefined,
): string {
  if (error instanceof CliError) return error.message;
  if (error instanceof AgentKeyInputError) return inFlags(error, flagOf);
  if (error instanceof AgentKeyTimeoutError) return `${where} did not answer in time`;
  const e = error as { code?: unknown; message?: unknown; errors?: unknown[] } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  // pg reports a refused connection to every address of a host as an AggregateError.
  const inner = Array.isArray(e?.errors) ? (e.errors[0] as { code?: unknown } | undefined) : undefined;
  const net = NETWORK.has(code)
    ? code
    : typeof inner?.code === 'string' && NETWORK.has(inner.code)
      ? inner.code
      : '';
  if (net) return `cannot reach ${where} (${net})`;
  const message = typeof e?.message === 'string' ? e.message : String(error);
  if (
    /timeout exceeded when trying to connect|Connection terminated due to connection timeout/i.test(message)
  )
    return `cannot reach ${where} (no answer within the connect timeout)`;
  if (code === '42P01') return `${firstLine(message)}: run \`agentkey migrate\` first (or pass --table)`;
  if (code === '3D000' || code === '28P01' || code === '28000') return `${where}: ${firstLine(message)}`;
  return firstLine(message);
}

/**
 * The library's fields by the flags (or `<argument>`s) that set them, in the order a command is
 * searched for them (an account's ceiling is `--cents`, a key's is `--budget`).
 */
const FLAGS: Record<string, readonly string[]> = {
  name: ['--name'],
  scopes: ['--scopes'],
  budgetCents: ['--budget', '--cents'],
  budgetPeriod: ['--period'],
  expiresIn: ['--expires-in'],
  expiresAt: ['--expires-in'],
  accountId: ['--account', '<account>'],
  userId: ['--user'],
  poolParentId: ['--pool-parent'],
  cents: ['--cents'],
  keyId: ['--key'],
  subject: ['--subject', '<subject>'],
  limit: ['--limit'],
  actor: ['--as'],
  tableName: ['--table'],
};

/** The flags a field may be set by (for a command to say which of them it has). */
export const flagsOf = (field: string): readonly string[] => FLAGS[field] ?? [];

/** An input error in the words of the command line: the flag, where the library names its field. */
function inFlags(error: AgentKeyInputError, flagOf: (field: string) => string | undefined): string {
  const flag = error.field === undefined ? undefined : flagOf(error.field);
  if (flag === undefined) return error.message;
  const field = error.field!;
  if (error.message.startsWith(`${field} `) || error.message.startsWith(`${field}:`))
    return `${flag}${error.message.slice(field.length)}`;
  return `${error.message} (${flag})`;
}

function firstLine(text: string): string {
  const line = text.split('\n', 1)[0]!.trim();
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}
