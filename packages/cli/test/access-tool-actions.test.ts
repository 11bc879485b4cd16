import type { ToolInfo } from '@agentkey/access';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyEntry, newAgent, withAccess } from './support/access.js';
import { openPlace, type Place, run } from './support/cli.js';

/**
 * `tools add --action name=METHODS:/prefix,…` names a tool's permit slip actions, on PostgreSQL,
 * through the real CLI: parsed strictly (one line on stderr, exit 1, nothing stored), checked by the
 * store to narrow the tool, and usable for a slip once the tool is defined.
 */
describe('agentkey tools add --action', () => {
  let place: Place;
  const keys = keyEntry('k1');
  const add = ['tools', 'add', 'github', '--name', 'GitHub', '--base-url', 'https://api.github.com/'];
  const tool = ['--methods', 'GET,HEAD,POST', '--paths', '/repos/,/user'];

  beforeAll(async () => {
    place = await openPlace('postgres');
    expect((await run(place, ['migrate'])).code).toBe(0);
  });
  afterAll(() => place.close());

  it.each([
    [
      'no = or :',
      ['--action', 'repos.read'],
      /argument 'repos\.read' is invalid\. "repos\.read" is not an action\. Give name=METHODS/,
    ],
    ['no methods part', ['--action', 'repos.read=/repos/'], /is not an action\. Give name=METHODS/],
    ['a bad name', ['--action', 'Repos=GET:/repos/'], /action name "Repos" must be 1-64 lower-case letters/],
    [
      'empty methods',
      ['--action', 'repos.read=:/repos/'],
      /action repos\.read: methods must be a comma list/,
    ],
    [
      'a method with a space inside',
      ['--action', 'r=G ET:/repos/'],
      /action r: methods must be a comma list/,
    ],
    ['a prefix without /', ['--action', 'r=GET:repos/'], /action r: each path prefix must start with \//],
    ['an empty prefix', ['--action', 'r=GET:/repos/,'], /action r: each path prefix must start with \//],
    ['a name twice', ['--action', 'r=GET:/repos/', '--action', 'r=HEAD:/user'], /action r is given twice/],
    [
      'a method the tool lacks',
      ['--action', 'w=DELETE:/repos/'],
      "error: cannot add tool github: --action w may only narrow the tool's methods and paths",
    ],
    [
      'a path outside the tool',
      ['--action', 'w=GET:/orgs/'],
      "error: cannot add tool github: --action w may only narrow the tool's methods and paths",
    ],
    [
      'an unknown method',
      ['--action', 'w=FETCH:/repos/'],
      'error: cannot add tool github: --action w: each must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS',
    ],
    [
      'a dot segment',
      ['--action', 'w=GET:/repos/../x'],
      'error: cannot add tool github: --action w: each must start with / and hold no .., %, \\, ? or #',
    ],
  ] as const)('%s: one line, exit 1, nothing stored', async (_, flags, expected) => {
    const ran = await run(place, [...add, ...tool, ...flags]);
    expect([ran.code, ran.out]).toEqual([1, '']);
    expect(ran.err.split('\n')).toHaveLength(2);
    if (typeof expected === 'string') expect(ran.err).toBe(`${expected}\n`);
    else expect(ran.err).toMatch(expected);
    expect((await run(place, ['tools', 'list'])).out).toBe('no tools yet\n');
  });

  it('stores each action, shows them, and a permit slip can be minted for one', async () => {
    const ran = await run(place, [
      ...add,
      ...tool,
      '--action',
      'repos.read=GET,head:/repos/',
      '--action',
      'issues.write=POST:/repos/,/user',
      '--json',
    ]);
    expect(ran, ran.err).toMatchObject({ code: 0, err: '' });
    expect((JSON.parse(ran.out) as ToolInfo).actions).toEqual({
      'repos.read': { methods: ['GET', 'HEAD'], pathPrefixes: ['/repos/'] },
      'issues.write': { methods: ['POST'], pathPrefixes: ['/repos/', '/user'] },
    });
    const shown = await run(place, ['tools', 'show', 'github']);
    expect(shown.out).toContain('repos.read (GET,HEAD /repos/); issues.write (POST /repos/,/user)');
    const minted = await withAccess(place, keys, async (access, ak) => {
      const agent = await newAgent(ak);
      const asked = await access.request(agent.caller, 'github', { reason: 'slips' });
      if (!asked.ok) throw new Error(asked.message);
      const approved = await access.approve(asked.request.id, { actor: { kind: 'human', id: 'ops' } });
      if (!approved.ok) throw new Error(approved.message);
      return access.mintPermit(agent.caller, 'github:issues.write', { ttl: '10s' });
    });
    expect(minted).toMatchObject({ ok: true, permit: { action: 'github:issues.write' } });
    // --replace keeps only the actions given again.
    const replaced = await run(place, [...add, ...tool, '--replace', '--action', 'r=GET:/user', '--json']);
    expect((JSON.parse(replaced.out) as ToolInfo).actions).toEqual({
      r: { methods: ['GET'], pathPrefixes: ['/user'] },
    });
  });
});
