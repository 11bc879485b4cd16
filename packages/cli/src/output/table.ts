import Table from 'cli-table3';
import type { Cli } from '../cli.js';

// Without a terminal: no borders, two spaces between columns, so `grep` and `awk` read it.
const PLAIN = {
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: '  ',
};

function newTable(cli: Cli, head?: string[]): Table.Table {
  const pad = cli.io.tty ? 1 : 0;
  return new Table({
    ...(head ? { head: head.map((h) => cli.colours.bold(h)) } : {}),
    // Colour is ours (picocolors, off without a terminal or with NO_COLOR), never the table's.
    style: { head: [], border: [], 'padding-left': pad, 'padding-right': pad },
    ...(cli.io.tty ? {} : { chars: PLAIN }),
  });
}

function text(cli: Cli, table: Table.Table): string {
  const out = table.toString();
  return cli.io.tty
    ? out
    : out
        .split('\n')
        .map((l) => l.trimEnd())
        .join('\n');
}

/** A table with a header row: bordered on a terminal, plain columns elsewhere. */
export function renderTable(cli: Cli, head: string[], rows: string[][]): string {
  const table = newTable(cli, head);
  table.push(...rows);
  return text(cli, table);
}

/** Two columns, field and value, for one record. */
export function renderFields(cli: Cli, fields: Array<[string, string]>): string {
  const table = newTable(cli);
  table.push(...fields.map(([k, v]) => [cli.colours.dim(k), v]));
  return text(cli, table);
}
