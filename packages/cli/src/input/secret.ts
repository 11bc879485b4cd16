import { CliError } from '../errors.js';
import type { Io, Stdin } from '../io.js';

/** The longest secret the store seals (in characters); piped input is cut off well before memory is. */
const MAX_CHARS = 8192;
const MAX_BYTES = MAX_CHARS * 4 + 2;

/**
 * Reads a secret from standard input, never from the command line (arguments stay in the shell's
 * history and in `ps` for every user of the machine to read): piped text up to its end, one
 * trailing newline dropped; or, on a terminal, a line typed after a prompt on stderr, with echo off.
 */
export async function readSecret(io: Io, prompt: string): Promise<string> {
  const stdin = io.stdin;
  if (!stdin) throw new CliError('no standard input to read the secret from: pipe it in');
  const text = stdin.isTTY && stdin.setRawMode ? await typed(io, stdin, prompt) : await piped(stdin);
  if (text === '') throw new CliError('no secret given: standard input was empty');
  return text;
}

async function piped(stdin: Stdin): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array);
    size += bytes.length;
    if (size > MAX_BYTES) throw new CliError(`the secret is longer than ${MAX_CHARS} characters`);
    chunks.push(bytes);
  }
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** A line typed in raw mode: nothing is echoed; Backspace edits, Enter ends, Ctrl-C cancels. */
function typed(io: Io, stdin: Stdin, prompt: string): Promise<string> {
  io.err(prompt);
  stdin.setRawMode!(true);
  return new Promise<string>((resolve, reject) => {
    let text = '';
    const finish = (error?: CliError) => {
      stdin.removeListener('data', onData);
      stdin.setRawMode!(false);
      stdin.pause();
      io.err('\n');
      if (error) reject(error);
      else resolve(text);
    };
    function onData(chunk: Buffer | string) {
      for (const ch of typeof chunk === 'string' ? chunk : chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish();
        if (ch === '\u0003') return finish(new CliError('cancelled', 130));
        if (ch === '\u007f' || ch === '\b') text = [...text].slice(0, -1).join('');
        else if (ch >= ' ') text += ch;
        if (text.length > MAX_CHARS)
          return finish(new CliError(`the secret is longer than ${MAX_CHARS} characters`));
      }
    }
    stdin.on('data', onData);
    stdin.resume();
  });
}
