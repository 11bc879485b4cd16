import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cli } from '../src/cli.js';
import { buildProgram } from '../src/program.js';
import { openPlace, type Place, run, spawnCli } from './support/cli.js';

/** The program itself (program.ts, output/): --help everywhere, shell completion, terminal or pipe output. */
describe('agentkey program', () => {
  let place: Place;
  beforeAll(async () => {
    place = await openPlace('postgres');
    expect((await run(place, ['migrate'])).code).toBe(0);
    await place.withStore((ak) => ak.create({ accountId: 'acme', name: 'bot', budgetCents: 100 }));
  });
  afterAll(() => place.close());

  const paths = (command: Command, prefix: string[] = []): string[][] =>
    command.commands
      .filter((c) => !['help', 'complete'].includes(c.name()))
      .flatMap((c) => [[...prefix, c.name()], ...paths(c, [...prefix, c.name()])]);

  it('answers --help on every command with its usage, exit 0', async () => {
    const all = paths(buildProgram(new Cli({ out() {}, err() {}, tty: false, env: {}, cwd: '/' })));
    expect(all.map((p) => p.join(' '))).toEqual(
      expect.arrayContaining([
        'migrate',
        'keys create',
        'subjects revoke',
        'budget topup',
        'holds list',
        'usage',
        'ledger',
        'console',
      ]),
    );
    for (const path of [[], ...all]) {
      const ran = await run(null, [...path, '--help']);
      expect(ran.code, path.join(' ')).toBe(0);
      expect(ran.out).toMatch(new RegExp(`^Usage: agentkey ${path.join(' ')}`));
    }
  });

  it('migrate --concurrently builds a missing index CONCURRENTLY and records nothing twice', async () => {
    // As a deployment before migration 003: one of its indexes absent and 003 unrecorded.
    const table = place.args[place.args.indexOf('--table') + 1]!;
    const schema = table.split('.')[0]!;
    await place.withStore(async (_ak, pool) => {
      await pool.query(`DROP INDEX ${schema}.sdk_api_keys_pool_parent_idx`);
      await pool.query(`DELETE FROM ${table}_schema_version WHERE name = '003_console_indexes.sql'`);
    });
    const ran = await run(place, ['migrate', '--concurrently']);
    expect(ran.code, ran.err).toBe(0);
    const after = await place.withStore(async (_ak, pool) => {
      const idx = await pool.query(
        `SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass($1)`,
        [`${schema}.sdk_api_keys_pool_parent_idx`],
      );
      const v = await pool.query(
        `SELECT count(*)::int AS n FROM ${table}_schema_version WHERE name = '003_console_indexes.sql'`,
      );
      return { valid: idx.rows[0]?.indisvalid, recorded: v.rows[0].n };
    });
    expect(after).toEqual({ valid: true, recorded: 1 });
    expect((await run(place, ['migrate', '--concurrently'])).code).toBe(0);
  });

  it('prints completion scripts for bash, zsh and fish, and completes subcommands', async () => {
    const [bash, zsh, fish, words] = await Promise.all([
      spawnCli(null, ['completion', 'bash']),
      spawnCli(null, ['completion', 'zsh']),
      spawnCli(null, ['completion', 'fish']),
      spawnCli(null, ['complete', '--', 'keys', '']),
    ]);
    for (const script of [bash, zsh, fish]) {
      expect(script.code).toBe(0);
      expect(script.out).toMatch(/agentkey/);
    }
    expect(bash.out).toMatch(/complete .*agentkey/);
    expect(fish.out).toMatch(/complete -c agentkey/);
    expect(words.code).toBe(0);
    for (const sub of ['create', 'list', 'show', 'update', 'revoke'])
      expect(words.out).toMatch(new RegExp(`^${sub}\\b`, 'm'));
    // Global options are taken after a subcommand, so they are offered there too.
    const flags = await spawnCli(null, ['complete', '--', 'budget', 'topup', '--']);
    for (const flag of ['--key', '--cents', '--as', '--database-url', '--pglite', '--table', '--json'])
      expect(flags.out).toMatch(new RegExp(`^${flag}\t`, 'm'));
    expect((await spawnCli(null, ['complete', '--', 'keys', 'list', '--da'])).out).toMatch(
      /^--database-url\t/m,
    );
    const bad = await run(null, ['completion', 'tcsh']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(
      /value 'tcsh' is invalid for argument 'shell'\. Allowed choices are zsh, bash, fish, powershell/,
    );
  });

  it('draws borders and colour on a terminal, borders without colour under NO_COLOR, plain columns into a pipe', async () => {
    const argv = ['keys', 'list', '--account', 'acme'];
    const tty = await run(place, argv, { tty: true });
    expect(tty.out).toMatch(/┌/);
    expect(tty.out).toMatch(/\u001b\[/);
    const noColour = await run(place, argv, { tty: true, env: { NO_COLOR: '1' } });
    expect(noColour.out).toMatch(/┌/);
    expect(noColour.out).not.toMatch(/\u001b\[/);
    const piped = await run(place, argv);
    expect(piped.out).not.toMatch(/[┌│\u001b]/);
    expect(piped.out).toMatch(/^id\s+name\s+prefix/);
  });
});
