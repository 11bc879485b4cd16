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
export function oneLine(error: unknown, where = 'the database'): string {
  if (error instanceof CliError) return error.message;
  if (error instanceof AgentKeyInputError) return error.message;
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

function firstLine(text: string): string {
  const line = text.split('\n', 1)[0]!.trim();
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}
