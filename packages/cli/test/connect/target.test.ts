import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyInfo } from '@agentkey/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPlace, type Place, run } from '../support/cli.js';

/** Which database a command reaches (connect/target.ts, connect/data-folder.ts): the data-folder contract. */
describe('agentkey connection choice', () => {
  let place: Place;
  let cwd: string;
  const gateway = (data: string, file: object) => {
    mkdirSync(data, { recursive: true });
    writeFileSync(join(data, 'gateway.json'), JSON.stringify(file));
  };
  // A pid that surely is not alive: a child that has exited.
  let deadPid: number;
  beforeAll(async () => {
    place = await openPlace('postgres');
    expect((await run(place, ['migrate'])).code).toBe(0);
    await place.withStore((ak) => ak.create({ accountId: 'gw', name: 'via-gateway' }));
    cwd = mkdtempSync(join(tmpdir(), 'agentkey-cli-cwd-'));
    const child = spawn(process.execPath, ['-e', '']);
    deadPid = child.pid!;
    await new Promise((resolve) => child.on('close', resolve));
  });
  afterAll(async () => {
    rmSync(cwd, { recursive: true, force: true });
    await place.close();
  });
  const table = () => place.args[1]!;

  it("a live gateway's databaseUrl is used (its table too) when no database is given", async () => {
    const data = join(cwd, 'live-url', '.agentkey');
    gateway(data, {
      pid: process.pid,
      port: 1,
      url: 'http://127.0.0.1:1',
      databaseUrl: place.env.DATABASE_URL,
      table: table(),
    });
    // From the folder's parent, the default data folder is this one.
    const fromCwd = await runIn(join(cwd, 'live-url'), ['keys', 'list', '--account', 'gw', '--json']);
    expect(fromCwd.code, fromCwd.err).toBe(0);
    expect((JSON.parse(fromCwd.out) as KeyInfo[]).map((k) => k.name)).toEqual(['via-gateway']);
  });

  it('a live gateway that serves no URL: one line saying it holds the folder', async () => {
    const data = join(cwd, 'held');
    gateway(data, {
      pid: process.pid,
      port: 8787,
      url: 'http://127.0.0.1:8787',
      databaseUrl: null,
      table: 'sdk_api_keys',
    });
    const ran = await runIn(cwd, ['keys', 'list', '--account', 'gw', '--pglite', data]);
    expect(ran.code).toBe(1);
    expect(ran.err).toBe(
      `error: the gateway (pid ${process.pid}, http://127.0.0.1:8787) holds held/pglite and serves no database URL: stop it first, or run it with DATABASE_URL and pass --database-url\n`,
    );
    // $AGENTKEY_DATA names the same folder as the default.
    const viaEnv = await runIn(cwd, ['keys', 'list', '--account', 'gw'], { AGENTKEY_DATA: 'held' });
    expect(viaEnv.err).toMatch(
      /^error: the gateway \(pid \d+, http:\/\/127\.0\.0\.1:8787\) holds held\/pglite/,
    );
  });

  it('a folder another process has open (its gateway.lock names a live pid): one line, nothing opened', async () => {
    const data = join(cwd, 'locked');
    mkdirSync(data, { recursive: true });
    writeFileSync(join(data, 'gateway.lock'), String(process.pid));
    const ran = await runIn(cwd, ['migrate', '--pglite', join(data, 'pglite')]);
    expect(ran).toMatchObject({ code: 1, out: '' });
    expect(ran.err).toBe(
      `error: locked/pglite is in use by process ${process.pid} (a gateway or another agentkey command): try again when it has stopped\n`,
    );
    expect(existsSync(join(data, 'pglite', 'PG_VERSION'))).toBe(false);
  });

  it('a bare PGlite folder (no data folder around it) is locked too: a second command is kept out', async () => {
    // Before, only a gateway's data folder was locked: two commands opened a bare folder at once
    // and one of them lost its writes (a key "created" that was never there).
    const bare = join(cwd, 'bare');
    expect((await runIn(cwd, ['migrate', '--pglite', bare])).code).toBe(0);
    expect(existsSync(join(bare, 'agentkey.lock')), 'the lock goes with the command').toBe(false);
    writeFileSync(join(bare, 'agentkey.lock'), String(process.pid)); // another command has it open
    const ran = await runIn(cwd, ['keys', 'create', '--account', 'bare', '--pglite', bare]);
    expect(ran).toMatchObject({ code: 1, out: '' });
    expect(ran.err).toBe(
      `error: bare is in use by process ${process.pid} (a gateway or another agentkey command): try again when it has stopped\n`,
    );
    writeFileSync(join(bare, 'agentkey.lock'), String(deadPid)); // its process is gone: taken over
    expect((await runIn(cwd, ['keys', 'create', '--account', 'bare', '--pglite', bare])).code).toBe(0);
  });

  it('a --pglite path that holds something else is refused, never filled with a new database', async () => {
    const other = join(cwd, 'notes');
    mkdirSync(other);
    writeFileSync(join(other, 'notes.txt'), 'mine');
    const file = join(cwd, 'a-file');
    writeFileSync(file, 'x');
    for (const argv of [
      ['keys', 'list', '--account', 'x', '--pglite', other],
      ['migrate', '--pglite', other],
      ['migrate', '--pglite', ''], // the working folder
    ]) {
      const ran = await runIn(cwd, argv);
      expect(ran).toMatchObject({ code: 1, out: '' });
      expect(ran.err).toMatch(/^error: \S+ is not a PGlite database \(no PG_VERSION\) and not empty: /);
    }
    expect(existsSync(join(other, 'PG_VERSION'))).toBe(false);
    expect(existsSync(join(cwd, 'PG_VERSION'))).toBe(false);
    const ran = await runIn(cwd, ['migrate', '--pglite', file]);
    expect(ran.err).toBe("error: a-file is not a folder: --pglite takes a PGlite database's folder\n");
    // An empty folder is no database yet: refused by a read, made by migrate.
    const empty = join(cwd, 'empty');
    mkdirSync(empty);
    expect((await runIn(cwd, ['keys', 'list', '--account', 'x', '--pglite', empty])).err).toMatch(
      /^error: no database at empty: /,
    );
    expect((await runIn(cwd, ['migrate', '--pglite', empty])).code).toBe(0);
  });

  it('a stale gateway.json (its pid is gone) is ignored: the folder itself is looked at', async () => {
    const data = join(cwd, 'stale');
    gateway(data, {
      pid: deadPid,
      port: 1,
      url: 'http://127.0.0.1:1',
      databaseUrl: 'postgres://nobody@127.0.0.1:1/x',
      table: 'x',
    });
    const ran = await runIn(cwd, ['keys', 'list', '--account', 'gw', '--pglite', data]);
    expect(ran).toMatchObject({ code: 1, out: '' });
    expect(ran.err).toMatch(/^error: no database at stale\/pglite: start the gateway/);
  });

  it('DATABASE_URL wins over the data folder, and --database-url over DATABASE_URL', async () => {
    const data = join(cwd, 'ignored', '.agentkey');
    gateway(data, { pid: process.pid, url: null, databaseUrl: null, table: null });
    const viaEnv = await runIn(
      join(cwd, 'ignored'),
      ['keys', 'list', '--account', 'gw', '--table', table()],
      {
        DATABASE_URL: place.env.DATABASE_URL!,
      },
    );
    expect(viaEnv.code, viaEnv.err).toBe(0);
    const viaFlag = await runIn(
      join(cwd, 'ignored'),
      ['keys', 'list', '--account', 'gw', '--table', table(), '--database-url', place.env.DATABASE_URL!],
      { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/x' },
    );
    expect(viaFlag.code, viaFlag.err).toBe(0);
    expect(viaFlag.out).toMatch(/via-gateway/);
  });

  it('--pglite beats DATABASE_URL (a flag over the environment), and with --database-url is refused', async () => {
    // Before, DATABASE_URL won over an explicit --pglite: the command went to another database.
    const nowhere = { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/x' };
    const folder = join(cwd, 'flag-over-env');
    expect((await runIn(cwd, ['migrate', '--pglite', folder], nowhere)).code).toBe(0);
    const made = await runIn(cwd, ['keys', 'create', '--account', 'flag', '--pglite', folder], nowhere);
    expect(made.code, made.err).toBe(0);
    expect(existsSync(join(folder, 'PG_VERSION'))).toBe(true);
    const listed = await runIn(
      cwd,
      ['keys', 'list', '--account', 'flag', '--pglite', folder, '--json'],
      nowhere,
    );
    expect(JSON.parse(listed.out)).toHaveLength(1);
    const both = await runIn(cwd, [
      'keys',
      'list',
      '--account',
      'flag',
      '--pglite',
      folder,
      '--database-url',
      place.env.DATABASE_URL!,
    ]);
    expect(both).toEqual({
      code: 1,
      out: '',
      err: "error: option '--database-url <url>' cannot be used with option '--pglite <dir>'\n",
    });
  });
});

function runIn(cwd: string, argv: string[], env: Record<string, string> = {}) {
  return run({ cwd, env, args: [] }, argv);
}
