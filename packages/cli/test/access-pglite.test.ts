import type { AuditRow, GrantInfo } from '@agentkey/access';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Agent, keyEntry, newAgent, osUser, step, withAccess } from './support/access.js';
import { openPlace, type Place, run, spawnCli } from './support/cli.js';

// PGlite opens its folder in WebAssembly for every command: slow on a busy machine.
const SLOW = 240_000;

/** The approver's commands on a PGlite folder (the gateway's layout): the flow once, end to end. */
describe('agentkey tools, requests, grants, audit on a PGlite folder', () => {
  let place: Place;
  let agent: Agent;
  let id: number;
  const keys = keyEntry('k1');
  const secret = 'xoxb-pglite-secret-42';
  const printed: string[] = [];
  const cli = async (argv: string[], options: Parameters<typeof run>[2] = {}) => {
    const ran = await run(place, argv, options);
    printed.push(ran.out, ran.err);
    expect(ran, `${argv.join(' ')}: ${ran.err}`).toMatchObject({ code: 0, err: '' });
    return ran;
  };
  beforeAll(async () => {
    place = await openPlace('pglite');
  }, SLOW);
  afterAll(() => place.close());

  it(
    'migrates (twice), defines a tool and seals its secret from stdin',
    async () => {
      expect(await spawnCli(place, ['migrate'])).toMatchObject({ code: 0, err: '' });
      await cli(['migrate']);
      await cli([
        'tools',
        'add',
        'slack',
        '--name',
        'Slack',
        '--base-url',
        'https://slack.com/api/',
        '--methods',
        'GET,POST',
      ]);
      const sealed = await cli(['tools', 'set-secret', 'slack', '--as', 'alice'], {
        env: { AGENTKEY_SECRET_KEYS: keys },
        stdin: `${secret}\n`,
      });
      expect(sealed.out).toBe('sealed the secret of slack (version 1, key k1)\n');
    },
    SLOW,
  );

  it(
    "an agent's request is approved with narrowing, listed as a grant, used, revoked; another denied",
    async () => {
      const [a, b] = await place.withStore(async (ak) => [await newAgent(ak), await newAgent(ak)]);
      agent = a!;
      const ids = await withAccess(place, keys, async (access) => {
        const out: number[] = [];
        for (const who of [a!, b!]) {
          const asked = await access.request(who.caller, 'slack', { reason: 'post alerts', ttl: '7d' });
          if (!asked.ok) throw new Error(asked.message);
          out.push(asked.request.id);
        }
        return out;
      });
      id = ids[0]!;
      const listed = JSON.parse(
        (await cli(['requests', 'list', '--status', 'pending', '--json'])).out,
      ) as GrantInfo[];
      expect(listed.map((g) => g.id)).toEqual([ids[1], id]);
      await cli([
        'requests',
        'approve',
        String(id),
        '--expires-in',
        '2h',
        '--budget',
        '50',
        '--methods',
        'POST',
      ]);
      await cli(['requests', 'deny', String(ids[1]), '--reason', 'one is enough']);
      const grants = JSON.parse((await cli(['grants', 'list', '--json'])).out) as GrantInfo[];
      expect(grants.map((g) => [g.id, g.methods, g.budgetCents])).toEqual([[id, ['POST'], 50]]);
      const vended = await withAccess(place, keys, (access) =>
        access.vend(agent.caller, { key: agent.key }, 'slack'),
      );
      expect(vended).toMatchObject({ ok: true, vended: { secret } });
      await cli(['grants', 'revoke', String(id)]);
      expect(JSON.parse((await cli(['grants', 'list', '--json'])).out)).toEqual([]);
    },
    SLOW,
  );

  it(
    'audit shows the steps in order with their humans; the secret was never printed',
    async () => {
      const rows = JSON.parse((await cli(['audit', '--json'])).out) as AuditRow[];
      const me = osUser();
      expect(rows.map(step)).toEqual([
        `tool.defined by human:${me}`,
        'secret.set by human:alice',
        `request.created by agent:key:${agent.caller.id}`,
        expect.stringMatching(/^request\.created by agent:key:\d+$/),
        `request.approved by human:${me}`,
        `request.denied by human:${me}`,
        `credential.vended by agent:key:${agent.caller.id}`,
        `grant.revoked by human:${me}`,
      ]);
      for (const text of [...printed, JSON.stringify(rows)]) expect(text).not.toContain(secret);
    },
    SLOW,
  );
});
