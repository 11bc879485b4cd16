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
