import type { AuditRow, GrantInfo } from '@agentkey/access';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Agent, keyEntry, newAgent, withAccess } from './support/access.js';
import { openPlace, type Place, run } from './support/cli.js';

/** Each mistake an approver can make is one line on stderr, exit 1, nothing on stdout, nothing changed. */
describe('agentkey requests, grants and audit refuse bad input', () => {
  let place: Place;
  let agent: Agent;
  let id: number;
  const keys = keyEntry('k1');
  const pending = async () =>
    (await withAccess(place, keys, (access) => access.listRequests({ status: 'pending' }))).map((g) => g.id);

  beforeAll(async () => {
    place = await openPlace('postgres');
    expect((await run(place, ['migrate'])).code).toBe(0);
    const add = ['tools', 'add', 'github', '--name', 'GitHub', '--base-url', 'https://api.github.com/'];
    expect((await run(place, [...add, '--methods', 'GET'])).code).toBe(0);
    agent = await place.withStore((ak) => newAgent(ak));
    id = await withAccess(place, keys, async (access) => {
      const asked = await access.request(agent.caller, 'github', { reason: 'ci', ttl: '7d' });
      if (!asked.ok) throw new Error(asked.message);
      return asked.request.id;
    });
  });
  afterAll(() => place.close());

  it.each([
    [
      'an unknown request id',
      ['requests', 'approve', '9999'],
      'error: cannot approve request 9999: no request "9999"',
    ],
    [
      'an unknown request id (deny)',
      ['requests', 'deny', '9999'],
      'error: cannot deny request 9999: no request "9999"',
    ],
    ['an unknown grant id', ['grants', 'revoke', '9999'], 'error: cannot revoke grant 9999: no grant "9999"'],
    [
      'a pending request revoked as a grant',
      ['grants', 'revoke', '@id'],
      'error: cannot revoke grant @id: grant @id is pending, not granted',
    ],
    [
      'a request id that is not a number',
      ['requests', 'approve', 'abc'],
      /value 'abc' is invalid for argument 'id'\. A request id is a positive whole number/,
    ],
    [
      'a bad duration',
      ['requests', 'approve', '@id', '--expires-in', '3x'],
      'error: cannot approve request @id: --expires-in must be a duration such as 10s, 15m, 2h or 7d (at least 1s, at most 366d)',
    ],
    [
      'a negative budget',
      ['requests', 'approve', '@id', '--budget', '-5'],
      /argument '-5' is invalid\. A budget is whole cents .*\(not negative\)/,
    ],
    ['a fractional budget', ['requests', 'approve', '@id', '--budget', '1.5'], /A budget is whole cents/],
    [
      'a method the tool does not allow',
      ['requests', 'approve', '@id', '--methods', 'GET,DELETE'],
      'error: cannot approve request @id: --methods: github allows only GET',
    ],
    [
      'not a method at all',
      ['requests', 'approve', '@id', '--methods', 'FETCH'],
      /^error: cannot approve request @id: --methods: each must be one of GET, HEAD/,
    ],
    [
      '--rate-window alone',
      ['requests', 'approve', '@id', '--rate-window', '60'],
      'error: --rate-window needs --rate-limit',
    ],
    [
      'an empty --as',
      ['requests', 'approve', '@id', '--as', ' '],
      /argument ' ' is invalid\. A name is 1-100 printable ASCII characters/,
    ],
    [
      'a status that does not exist',
      ['requests', 'list', '--status', 'maybe'],
      /argument 'maybe' is invalid\. Allowed choices are pending, granted/,
    ],
    [
      'a bad --since',
      ['audit', '--since', 'yesterday'],
      /argument 'yesterday' is invalid\. A time is an ISO date/,
    ],
    [
      '--follow with --until',
      ['audit', '--follow', '--until', 'now'],
      'error: --follow reads on from now: it takes no --until',
    ],
    [
      'a negative cost',
      ['tools', 'add', 'slack', '--name', 'Slack', '--base-url', 'https://slack.com/api/', '--cost', '-1'],
      /A cost is cents from 0.*not negative/,
    ],
    [
      'a bad base URL',
      ['tools', 'add', 'slack', '--name', 'Slack', '--base-url', 'ftp://x'],
      'error: cannot add tool slack: --base-url must be an http(s) URL without credentials or fragment',
    ],
  ] as const)('%s', async (_, argv, expected) => {
    const ran = await run(
      place,
      argv.map((a) => a.replace('@id', String(id))),
    );
    expect(ran.code).toBe(1);
    expect(ran.out).toBe('');
    expect(ran.err.split('\n')).toHaveLength(2); // one line and its newline
    if (typeof expected === 'string') expect(ran.err).toBe(`${expected.replaceAll('@id', String(id))}\n`);
    else expect(ran.err).toMatch(new RegExp(expected.source.replaceAll('@id', String(id))));
    expect(await pending()).toEqual([id]);
  });

  it('--rate-limit sets the grant its own window; an approved request cannot be approved again', async () => {
    const ran = await run(place, ['requests', 'approve', String(id), '--rate-limit', '10', '--json']);
    expect(ran.code, ran.err).toBe(0);
    expect((JSON.parse(ran.out) as GrantInfo).rateLimit).toEqual({ requests: 10, windowSec: 60 });
    const again = await run(place, ['requests', 'approve', String(id)]);
    expect(again).toMatchObject({
      code: 1,
      out: '',
      err: `error: cannot approve request ${id}: request ${id} is granted\n`,
    });
  });

  it('audit --follow prints rows written after it started, one JSON object a line, until its signal aborts', async () => {
    // From a time before the change: the row is shown however the read and the write interleave.
    const since = new Date().toISOString();
    const controller = new AbortController();
    const following = run(
      place,
      ['audit', '--follow', '--json', '--interval', '50', '--since', since, '--tool', 'github'],
      {
        signal: controller.signal,
        onOut: (out) => {
          if (out.includes('grant.revoked')) controller.abort();
        },
      },
    );
    expect((await run(place, ['grants', 'revoke', String(id), '--as', 'dora'])).code).toBe(0);
    const ran = await following;
    expect(ran).toMatchObject({ code: 0, err: '' });
    const rows = ran.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditRow);
    expect(rows.map((r) => [r.action, r.actor])).toEqual([['grant.revoked', { kind: 'human', id: 'dora' }]]);
  });
});
