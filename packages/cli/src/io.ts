/** Where a run of the CLI reads its surroundings and writes its output: the process, or a test's. */
export interface Io {
  /** Writes to standard output as is (callers add the newlines). */
  out(text: string): void;
  /** Writes to standard error as is. */
  err(text: string): void;
  /** Standard output is a terminal: tables get borders, and colour unless NO_COLOR says no. */
  tty: boolean;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** Aborted on Ctrl-C: `ledger --follow` stops cleanly. */
  signal?: AbortSignal;
  /** Standard input: where `tools set-secret` reads a secret (piped, or typed at a prompt without echo). */
  stdin?: Stdin;
}

/** Standard input: its bytes, and on a terminal a way to turn echo off (raw mode). */
export type Stdin = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?(raw: boolean): unknown };

export function processIo(signal?: AbortSignal): Io {
  return {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    tty: process.stdout.isTTY === true,
    env: process.env,
    cwd: process.cwd(),
    stdin: process.stdin,
    ...(signal ? { signal } : {}),
  };
}

/** Colour follows NO_COLOR (https://no-color.org) and FORCE_COLOR, else whether stdout is a terminal. */
export function colourOn(io: Io): boolean {
  if (io.env.NO_COLOR) return false;
  const force = io.env.FORCE_COLOR;
  if (force !== undefined && force !== '') return force !== '0' && force !== 'false';
  return io.tty && io.env.TERM !== 'dumb';
}
