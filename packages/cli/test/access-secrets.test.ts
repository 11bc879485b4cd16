import { PassThrough } from 'node:stream';
import type { AuditRow, ToolInfo } from '@agentkey/access';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Agent, keyEntry, newAgent, withAccess } from './support/access.js';
import { openPlace, type Place, run } from './support/cli.js';

/** A terminal stand-in: a stream that says it is a TTY and records raw-mode switches. */
function terminal() {
  const stream = Object.assign(new PassThrough(), { isTTY: true, raw: [] as boolean[] });
  return Object.assign(stream, { setRawMode: (on: boolean) => stream.raw.push(on) });
}

/**
 * `agentkey tools set-secret` (stdin or a prompt without echo, never an argument) and `agentkey
 * secrets reseal` (a key rotation), on PostgreSQL.
 */
describe('agentkey tools set-secret and secrets reseal', () => {
  let place: Place;
  let agent: Agent;
  const k1 = keyEntry('k1');
  const k2 = keyEntry('k2');
  const secret = 'ghp_first0secret';
  const withKeys = (keys: string) => ({ env: { AGENTKEY_SECRET_KEYS: keys } });
  const version = async () =>
    (await withAccess(place, k1, (access) => access.getTool('github')))!.secretVersion;
  const vend = (ring: string) =>
    withAccess(place, ring, (access) => access.vend(agent.caller, { key: agent.key }, 'github'));

  beforeAll(async () => {
    place = await openPlace('postgres');
    expect((await run(place, ['migrate'])).code).toBe(0);
    const add = ['tools', 'add', 'github', '--name', 'GitHub', '--base-url', 'https://api.github.com/'];
    expect((await run(place, add)).code).toBe(0);
    agent = await place.withStore((ak) => newAgent(ak));
    await withAccess(place, k1, async (access) => {
      const asked = await access.request(agent.caller, 'github', { reason: 'ci' });
      if (!asked.ok) throw new Error(asked.message);
      expect((await access.approve(asked.request.id, { actor: { kind: 'human', id: 'alice' } })).ok).toBe(
        true,
      );
    });
  });
  afterAll(() => place.close());

  it('refuses a secret given as an argument or --secret, without repeating it, and seals nothing', async () => {
    for (const argv of [
      ['tools', 'set-secret', 'github', 'ghp_onargv'],
      ['tools', 'set-secret', 'github', '--secret', 'ghp_onargv'],
      ['tools', 'set-secret', 'github', '--secret=ghp_onargv'],
    ]) {
      const ran = await run(place, argv, { ...withKeys(k1), stdin: `${secret}\n` });
      expect(ran).toMatchObject({ code: 1, out: '' });
      expect(ran.err).toBe(
        'error: refusing a secret on the command line (shell history and `ps` keep it): pipe it on stdin or type it at the prompt\n',
      );
    }
    expect(await version()).toBe(0);
  });

  it('set-secret and reseal need AGENTKEY_SECRET_KEYS, and name a malformed one without its material', async () => {
    for (const argv of [
      ['tools', 'set-secret', 'github'],
      ['secrets', 'reseal'],
    ]) {
      const ran = await run(place, argv, { stdin: secret });
      expect(ran).toMatchObject({ code: 1, out: '' });
      expect(ran.err).toMatch(
        /^error: AGENTKEY_SECRET_KEYS is not set: secrets are sealed with its first key/,
      );
      const bad = await run(place, argv, { ...withKeys('k1:c2hvcnQ='), stdin: secret });
      expect(bad).toMatchObject({
        code: 1,
        err: 'error: AGENTKEY_SECRET_KEYS: key k1 must be 32 bytes in base64 (got 5)\n',
      });
    }
    expect(await version()).toBe(0);
  });

  it('refuses an unknown tool before reading, an empty input, and a secret with a line break', async () => {
    const unknown = await run(place, ['tools', 'set-secret', 'nope'], { ...withKeys(k1), stdin: secret });
    expect(unknown).toMatchObject({ code: 1, err: 'error: no tool "nope"\n' });
    const empty = await run(place, ['tools', 'set-secret', 'github'], { ...withKeys(k1), stdin: '\n' });
    expect(empty).toMatchObject({ code: 1, err: 'error: no secret given: standard input was empty\n' });
    const twoLines = await run(place, ['tools', 'set-secret', 'github'], {
      ...withKeys(k1),
      stdin: 'ghp_a\nghp_b\n',
    });
    expect(twoLines.code).toBe(1);
    expect(twoLines.err).toMatch(
      /^error: cannot set the secret of github: secret must be .* without CR, LF or NUL\n$/,
    );
    expect(twoLines.err).not.toContain('ghp_');
    expect(await version()).toBe(0);
  });

  it('on a terminal, prompts on stderr with echo off: Backspace edits, Enter ends', async () => {
    const tty = terminal();
    const running = run(place, ['tools', 'set-secret', 'github', '--json'], { ...withKeys(k1), stdin: tty });
    // Typed one key at a time, a mistake rubbed out.
    for (const key of [...'ghp_first0secreX', '\u007f', 't', '\r']) tty.write(key);
    const ran = await running;
    expect(ran.code, ran.err).toBe(0);
    expect(ran.err).toBe('secret for github (not echoed): \n');
    expect(JSON.parse(ran.out)).toEqual({ toolId: 'github', version: 1, kid: 'k1' });
    expect(tty.raw).toEqual([true, false]);
    expect(await vend(k1)).toMatchObject({ ok: true, vended: { secret } });
  });

  it('Ctrl-C at the prompt cancels: nothing sealed', async () => {
    const tty = terminal();
    const running = run(place, ['tools', 'set-secret', 'github'], { ...withKeys(k1), stdin: tty });
    tty.write('ghp_half\u0003');
    expect(await running).toMatchObject({
      code: 130,
      err: 'secret for github (not echoed): \nerror: cancelled\n',
    });
    expect(tty.raw).toEqual([true, false]);
    expect(await version()).toBe(1);
  });

  it('a second set-secret rotates it (version 2)', async () => {
    const ran = await run(place, ['tools', 'set-secret', 'github', '--as', 'bob'], {
      ...withKeys(k1),
      stdin: 'ghp_second\n',
    });
    expect(ran).toMatchObject({ code: 0, out: 'rotated the secret of github (version 2, key k1)\n' });
    expect(await vend(k1)).toMatchObject({ ok: true, vended: { secret: 'ghp_second' } });
  });

  it('reseal after a new key id is put first: reports how many were resealed; the old key can go', async () => {
    const ran = await run(place, ['secrets', 'reseal', '--as', 'carol'], withKeys(`${k2},${k1}`));
    expect(ran).toMatchObject({
      code: 0,
      err: '',
      out: 'resealed 1 secret under key k2 (0 already under it, 0 failed)\n',
    });
    expect(await vend(k2)).toMatchObject({ ok: true, vended: { secret: 'ghp_second' } });
    const again = await run(place, ['secrets', 'reseal', '--json'], withKeys(`${k2},${k1}`));
    expect(JSON.parse(again.out)).toEqual({ resealed: [], current: ['github'], failed: [], kid: 'k2' });
    const tool = await run(place, ['tools', 'show', 'github', '--json']);
    expect(JSON.parse(tool.out) as ToolInfo).toMatchObject({ secretVersion: 2, hasSecret: true });
  });

  it('reseal with a ring that cannot open a secret says which, exits 1, and leaves it as it was', async () => {
    const ran = await run(place, ['secrets', 'reseal'], withKeys(keyEntry('k3')));
    expect(ran.code).toBe(1);
    expect(ran.out).toBe(
      'resealed 0 secrets under key k3 (0 already under it, 1 failed)\nfailed github: secret_key_unknown\n',
    );
    expect(ran.err).toBe(
      'error: 1 secret(s) could not be opened: github (secret_key_unknown); keep the old key\n',
    );
    expect(await vend(k2)).toMatchObject({ ok: true });
  });

  it('the audit log has each change with its human, and never a secret', async () => {
    const rows = JSON.parse((await run(place, ['audit', '--tool', 'github', '--json'])).out) as AuditRow[];
    const secrets = rows.filter((r) => r.action.startsWith('secret.'));
    expect(secrets.map((r) => [r.action, r.actor.id, r.detail])).toEqual([
      ['secret.set', expect.any(String), { version: 1, kid: 'k1' }],
      ['secret.rotated', 'bob', { version: 2, kid: 'k1' }],
      ['secret.resealed', 'carol', { version: 2, from: 'k1', to: 'k2' }],
    ]);
    for (const s of [secret, 'ghp_second', 'ghp_half', 'ghp_onargv'])
      expect(JSON.stringify(rows)).not.toContain(s);
  });
});
