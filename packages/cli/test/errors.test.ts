import { createServer, type Server, type Socket } from 'node:net';
import { freePort } from '@agentkey/test-support/ports.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPlace, type Place, run, spawnCli } from './support/cli.js';

/** Bad arguments and unreachable databases (errors.ts, run.ts): one line on stderr, a non-zero exit. */
describe('agentkey errors', () => {
  let place: Place;
  beforeAll(async () => {
    place = await openPlace('postgres');
    expect((await run(place, ['migrate'])).code).toBe(0);
  });
  afterAll(() => place.close());

  const oneLine = (ran: { code: number; out: string; err: string }, pattern: RegExp) => {
    expect(ran.code, `${pattern}: ${ran.out}`).not.toBe(0);
    expect(ran.out).toBe('');
    expect(ran.err.endsWith('\n')).toBe(true);
    expect(ran.err.trimEnd().split('\n')).toHaveLength(1);
    expect(ran.err).toMatch(pattern);
    expect(ran.err).not.toMatch(/\n\s+at /); // no stack trace
  };

  it('as child processes: unknown command, missing id, malformed duration, negative budget', async () => {
    const [unknown, missing, duration, negative] = await Promise.all([
      spawnCli(place, ['frobnicate']),
      spawnCli(place, ['keys', 'show']),
      spawnCli(place, ['keys', 'create', '--account', 'acme', '--expires-in', '3x']),
      spawnCli(place, ['keys', 'create', '--account', 'acme', '--budget', '-5']),
    ]);
    oneLine(unknown, /^error: unknown command 'frobnicate'/);
    oneLine(missing, /^error: missing required argument 'id'/);
    oneLine(duration, /^error: option '--expires-in <duration>' argument '3x' is invalid\. A duration is/);
    oneLine(negative, /^error: option '--budget <cents>' argument '-5' is invalid\. .*not negative/);
    // None of them made a key.
    expect(await place.withStore((ak) => ak.listKeys('acme'))).toEqual([]);
  });

  it('in process: more bad arguments, each one line and exit 1', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['keys', 'frob'], /unknown command 'frob'/],
      [['keyz'], /^error: unknown command 'keyz' \(Did you mean keys\?\)\n$/],
      [
        ['keys', 'show', 'abc'],
        /value 'abc' is invalid for argument 'id'\. A key id is a positive whole number/,
      ],
      [['keys', 'show', '0'], /A key id is a positive whole number/],
      [['keys', 'list'], /required option '--account <id>' not specified/],
      [['keys', 'create', '--account', 'a', '--period', 'fortnight'], /A period is day, week, month or none/],
      [['keys', 'update', '1', '--expires-in', '12'], /A duration is/],
      [['keys', 'list', '--account', 'a', '--bogus'], /unknown option '--bogus'/],
      [['ledger', '--limit', '0'], /Expected a whole number from 1 to 10000/],
      // Too large for the database's ids: said so, not only "positive".
      [['keys', 'show', '99999999999'], /A key id is a positive whole number \(at most 2147483647\)/],
    ];
    for (const [argv, pattern] of cases) oneLine(await run(place, argv), pattern);
  });

  it('a table that was never migrated says to run migrate', async () => {
    const ran = await run(null, ['keys', 'list', '--account', 'a', '--table', 'never_made_here'], {
      env: place.env,
    });
    oneLine(ran, /does not exist: run `agentkey migrate` first/);
    const bad = await run(null, ['keys', 'list', '--account', 'a', '--table', 'no such'], { env: place.env });
    // A global flag is named as such (the library calls it tableName).
    oneLine(bad, /^error: --table \(or AGENTKEY_TABLE\) must be an SQL identifier/);
  });

  it('a database nobody listens on: one line naming it, as a child process', async () => {
    const port = await freePort();
    const ran = await spawnCli(null, ['keys', 'list', '--account', 'a'], {
      DATABASE_URL: `postgres://postgres:secret-password@127.0.0.1:${port}/test`,
    });
    oneLine(
      ran,
      new RegExp(`^error: cannot reach the database at 127\\.0\\.0\\.1:${port}/test \\(ECONNREFUSED\\)\n$`),
    );
    expect(ran.err).not.toContain('secret-password');
  });

  describe('a database that accepts connections and never answers', () => {
    let server: Server;
    const sockets: Socket[] = [];
    let port: number;
    beforeAll(async () => {
      port = await freePort();
      server = createServer((socket) => sockets.push(socket));
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    });
    afterAll(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    });

    it('gives up after the connect timeout with one line', async () => {
      const ran = await run(null, [
        'keys',
        'list',
        '--account',
        'a',
        '--database-url',
        `postgres://u@127.0.0.1:${port}/db`,
      ]);
      oneLine(
        ran,
        /^error: cannot reach the database at 127\.0\.0\.1:\d+\/db \(no answer within the connect timeout\)\n$/,
      );
    });
  });
});
