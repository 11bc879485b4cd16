import type { AuditRow, GrantInfo, ToolInfo } from '@agentkey/access';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Agent, keyEntry, newAgent, osUser, step, withAccess } from './support/access.js';
import { openPlace, type Place, run, spawnCli } from './support/cli.js';

/**
 * The approver's side of @agentkey/access from the command line, on PostgreSQL: a tool defined and
 * its secret piped in, agents' requests listed, approved with narrowing, denied, the grant revoked,
 * and the audit log showing each step with the human who took it. PGlite: access-pglite.test.ts.
 */
describe('agentkey tools, requests, grants, audit', () => {
  let place: Place;
  const keys = keyEntry('k1');
  const env = { AGENTKEY_SECRET_KEYS: keys };
  const secret = `ghp_${Math.random().toString(36).slice(2)}Zq9`;
  /** Everything the CLI printed, to check the secret never appears in any of it. */
  const printed: string[] = [];
  const cli = async (argv: string[], options: Parameters<typeof run>[2] = {}) => {
    const ran = await run(place, argv, options);
    printed.push(ran.out, ran.err);
    return ran;
  };
  const cliJson = async <T>(argv: string[]) => {
    const ran = await cli([...argv, '--json']);
    expect(ran, argv.join(' ')).toMatchObject({ code: 0, err: '' });
    return JSON.parse(ran.out) as T;
  };
  let first: Agent;
  let second: Agent;
  let approvedId: number;
  let deniedId: number;
  const vend = (agent: Agent, ring = keys) =>
    withAccess(place, ring, (access) => access.vend(agent.caller, { key: agent.key }, 'github'));

  beforeAll(async () => {
    place = await openPlace('postgres');
  });
  afterAll(() => place.close());

  it('migrate creates the access tables too, and running it again applies nothing twice', async () => {
    expect((await cli(['migrate'])).code).toBe(0);
    expect((await cli(['migrate'])).code).toBe(0);
    const versions = await place.withStore(async (_ak, pool) => {
      const { rows } = await pool.query(`SELECT name FROM ${place.args[1]}_access_version`);
      return rows.map((r) => r.name);
    });
    expect(versions).toEqual(['001_access.sql', '002_slip_tokens.sql']);
    expect((await cli(['tools', 'list'])).out).toBe('no tools yet\n');
  });

  it('tools add defines a tool; adding it again needs --replace', async () => {
    const argv = ['tools', 'add', 'github', '--name', 'GitHub', '--base-url', 'https://api.github.com/'];
    const added = await cliJson<ToolInfo>([
      ...argv,
      '--methods',
      'GET,POST',
      '--paths',
      '/repos/',
      '--cost',
      '0.5',
    ]);
    expect(added).toMatchObject({
      id: 'github',
      methods: ['GET', 'POST'],
      pathPrefixes: ['/repos/'],
      costCents: 0.5,
    });
    expect(added.hasSecret).toBe(false);
    const again = await cli(argv);
    expect(again).toMatchObject({ code: 1, err: 'error: tool github exists: pass --replace to change it\n' });
    const replaced = await cliJson<ToolInfo>([
      ...argv,
      '--methods',
      'GET,POST',
      '--paths',
      '/repos/,/user',
      '--replace',
    ]);
    expect(replaced.pathPrefixes).toEqual(['/repos/', '/user']);
    const listed = await cli(['tools', 'list']);
    expect(listed.out).toMatch(
      /^github\s+GitHub\s+https:\/\/api\.github\.com\/\s+GET,POST\s+\/repos\/,\/user\s+-\s+none$/m,
    );
  });

  it('set-secret reads the secret from stdin (a child process, piped), and prints only its version', async () => {
    const ran = await spawnCli(place, ['tools', 'set-secret', 'github', '--as', 'alice'], env, `${secret}\n`);
    printed.push(ran.out, ran.err);
    expect(ran).toMatchObject({ code: 0, err: '', out: 'sealed the secret of github (version 1, key k1)\n' });
    const shown = await cliJson<ToolInfo>(['tools', 'show', 'github']);
    expect(shown).toMatchObject({ hasSecret: true, secretVersion: 1 });
    expect((await cli(['tools', 'show', 'github'])).out).toMatch(/^secret\s+set \(version 1\)$/m);
  });

  it('requests list shows what agents asked for, newest first; --status filters', async () => {
    [first, second] = await place.withStore(async (ak) => [await newAgent(ak), await newAgent(ak)]);
    await withAccess(place, keys, async (access) => {
      for (const [agent, reason] of [
        [first, 'triage issues'],
        [second, 'read the code'],
      ] as const) {
        const asked = await access.request(agent.caller, 'github', { reason, ttl: '7d', budgetCents: 200 });
        expect(asked.ok).toBe(true);
      }
    });
    const pending = await cliJson<GrantInfo[]>(['requests', 'list', '--status', 'pending']);
    expect(pending.map((g) => [g.agentId, g.reason, g.status])).toEqual([
      [second.caller.id, 'read the code', 'pending'],
      [first.caller.id, 'triage issues', 'pending'],
    ]);
    [deniedId, approvedId] = pending.map((g) => g.id) as [number, number];
    const table = await cli(['requests', 'list']);
    expect(table.out).toMatch(
      new RegExp(
        `^${approvedId}\\s+github\\s+key:${first.caller.id}\\s+pending\\s+triage issues\\s+7d, \\$2\\.00`,
        'm',
      ),
    );
    expect(await cliJson<GrantInfo[]>(['requests', 'list', '--status', 'granted'])).toEqual([]);
    // Zero access until a human says yes.
    expect(await vend(first)).toMatchObject({ ok: false, code: 'no_grant' });
  });

  it('requests approve narrows expiry, budget and methods; grants list shows the grant; the agent can use it', async () => {
    const grant = await cliJson<GrantInfo>([
      'requests',
      'approve',
      String(approvedId),
      '--expires-in',
      '1d',
      '--budget',
      '100',
      '--methods',
      'GET',
      '--as',
      'alice',
    ]);
    expect(grant).toMatchObject({
      id: approvedId,
      status: 'granted',
      methods: ['GET'],
      budgetCents: 100,
      decidedBy: 'alice',
    });
    expect(Date.parse(String(grant.expiresAt)) - Date.parse(String(grant.decidedAt))).toBe(86_400_000);
    const live = await cliJson<GrantInfo[]>(['grants', 'list']);
    expect(live.map((g) => [g.id, g.status, g.methods])).toEqual([[approvedId, 'granted', ['GET']]]);
    const shown = await cli(['grants', 'list']);
    expect(shown.out).toMatch(
      new RegExp(
        `^${approvedId}\\s+github\\s+key:${first.caller.id}\\s+granted\\s+GET\\s+\\S+\\s+\\$0\\.00 / \\$1\\.00\\s+-\\s+alice$`,
        'm',
      ),
    );
    // What was piped in is what the store opens (its trailing newline dropped).
    expect(await vend(first)).toMatchObject({ ok: true, vended: { secret, value: `Bearer ${secret}` } });
  });

  it('requests deny refuses the other; a decided request cannot be decided again', async () => {
    const denied = await cli(['requests', 'deny', String(deniedId), '--reason', 'not this week']);
    expect(denied).toMatchObject({
      code: 0,
      err: '',
      out: `denied request ${deniedId} (github for key:${second.caller.id})\n`,
    });
    const again = await cli(['requests', 'approve', String(deniedId)]);
    expect(again).toMatchObject({
      code: 1,
      out: '',
      err: `error: cannot approve request ${deniedId}: request ${deniedId} is denied\n`,
    });
    const twice = await cli(['requests', 'deny', String(approvedId)]);
    expect(twice.err).toBe(`error: cannot deny request ${approvedId}: request ${approvedId} is granted\n`);
    expect(await vend(second)).toMatchObject({ ok: false, code: 'no_grant' });
  });

  it('grants revoke ends the grant at once; revoking it again is refused', async () => {
    const revoked = await cli(['grants', 'revoke', String(approvedId)]);
    expect(revoked).toMatchObject({
      code: 0,
      err: '',
      out: `revoked grant ${approvedId} (github for key:${first.caller.id})\n`,
    });
    expect(await vend(first)).toMatchObject({ ok: false, code: 'no_grant' });
    expect(await cliJson<GrantInfo[]>(['grants', 'list'])).toEqual([]);
    const all = await cliJson<GrantInfo[]>(['grants', 'list', '--all']);
    expect(all.map((g) => [g.id, g.status])).toEqual([[approvedId, 'revoked']]);
    const again = await cli(['grants', 'revoke', String(approvedId)]);
    expect(again).toMatchObject({
      code: 1,
      err: `error: cannot revoke grant ${approvedId}: grant ${approvedId} is revoked, not granted\n`,
    });
  });

  it('audit lists every step in order with the human who took it (--as, else the OS user)', async () => {
    const rows = await cliJson<AuditRow[]>(['audit']);
    const me = osUser();
    expect(rows.map(step)).toEqual([
      `tool.defined by human:${me}`,
      `tool.defined by human:${me}`,
      'secret.set by human:alice',
      `request.created by agent:key:${first.caller.id}`,
      `request.created by agent:key:${second.caller.id}`,
      'request.approved by human:alice',
      `credential.vended by agent:key:${first.caller.id}`,
      `request.denied by human:${me}`,
      `grant.revoked by human:${me}`,
    ]);
    expect(rows.map((r) => r.id)).toEqual([...rows.map((r) => r.id)].sort((a, b) => a - b));
    const approved = rows.find((r) => r.action === 'request.approved')!;
    expect(approved).toMatchObject({
      toolId: 'github',
      agentId: first.caller.id,
      target: `request:${approvedId}`,
    });
    expect(approved.detail).toMatchObject({ methods: ['GET'], budgetCents: 100 });

    const byAgent = await cliJson<AuditRow[]>(['audit', '--agent', String(second.caller.id)]);
    expect(byAgent.map((r) => r.action)).toEqual(['request.created', 'request.denied']);
    expect(await cliJson<AuditRow[]>(['audit', '--tool', 'slack'])).toEqual([]);
    expect(await cliJson<AuditRow[]>(['audit', '--since', '2999-01-01'])).toEqual([]);
    expect(await cliJson<AuditRow[]>(['audit', '--until', '2000-01-01'])).toEqual([]);
    const limited = await cli(['audit', '--limit', '2']);
    expect(limited.out.trim().split('\n')).toHaveLength(3); // the header and two rows
    expect(limited.err).toMatch(/the first 2 rows/);
    const table = await cli(['audit', '--tool', 'github']);
    expect(table.out).toMatch(/\shuman:alice\s+request\.approved\s+github\s/);
  });

  it('the secret appears in no output of any command, --json included, nor in the audit log', async () => {
    printed.push(JSON.stringify(await cliJson(['audit'])));
    for (const argv of [
      ['tools', 'list'],
      ['tools', 'show', 'github'],
      ['requests', 'list'],
      ['grants', 'list', '--all'],
    ]) {
      printed.push((await cli(argv)).out, JSON.stringify(await cliJson(argv)));
    }
    const stored = await withAccess(place, keys, (access) => access.audit({ limit: 1000 }));
    expect(stored.length).toBeGreaterThan(5);
    for (const text of [...printed, JSON.stringify(stored)]) expect(text).not.toContain(secret);
  });
});
