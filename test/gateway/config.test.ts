import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { failedStart, gatewayEnv, startGateway } from '../support/gateway.js';
import { freePort } from '../support/ports.js';

/** Bad configuration: one line on stderr naming the flag or variable, exit code 1, nothing on stdout. */

const dirs: string[] = [];
const fresh = () => {
  const dir = mkdtempSync(join(tmpdir(), 'agentkey-gateway-config-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function refused(args: string[], env: Record<string, string>): Promise<string> {
  const run = await failedStart(['--port', '0', '--data', fresh(), ...args], gatewayEnv(env));
  expect(run.code).toBe(1);
  expect(run.stdout).toBe('');
  expect(run.stderr).toMatch(/^agentkey gateway: [^\n]+\n$/);
  return run.stderr;
}

describe('the main job refuses bad configuration in one line', () => {
  it.each([
    [['--port', 'abc'], {}, /--port must be a whole number from 0 to 65535.*"abc"/],
    [['--port', '70000'], {}, /--port must be a whole number/],
    [['--colour'], {}, /Unknown option '--colour'.*usage: npx -y pnpm@10 start/],
    [[], { DATABASE_URL: 'not a url' }, /DATABASE_URL is not a URL/],
    [[], { DATABASE_URL: 'mysql://db.example.com/app' }, /DATABASE_URL must start with postgres:\/\//],
    [[], { REDIS_URL: 'http://127.0.0.1:6379' }, /REDIS_URL must start with redis:\/\/ or rediss:\/\//],
    [[], { AUTH0_DOMAIN: 'example.eu.auth0.com' }, /AUTH0_DOMAIN is set but AUTH0_AUDIENCE is not/],
    [[], { AUTH0_AUDIENCE: 'https://api.example.com' }, /AUTH0_AUDIENCE is set but AUTH0_DOMAIN is not/],
    [[], { OIDC_ISSUER: 'https://login.example.com/' }, /OIDC_ISSUER is set but OIDC_AUDIENCE is not/],
    [
      [],
      { OIDC_ISSUER: 'ftp://login.example.com/', OIDC_AUDIENCE: 'x' },
      /OIDC_ISSUER must start with https:\/\//,
    ],
    [
      [],
      { AUTH0_DOMAIN: 'not a domain', AUTH0_AUDIENCE: 'https://api.example.com' },
      /^agentkey gateway: AUTH0_DOMAIN: /,
    ],
    [[], { AGENTKEY_TABLE: 'keys; DROP TABLE x' }, /^agentkey gateway: AGENTKEY_TABLE: /],
  ])(
    '%j %j',
    async (args, env, message) => {
      expect(await refused(args, env as Record<string, string>)).toMatch(message);
    },
    60_000,
  );

  it('an unreachable DATABASE_URL names it, without the password', async () => {
    const url = `postgres://agentkey:s3cret-pw@127.0.0.1:${await freePort()}/app`;
    const line = await refused([], { DATABASE_URL: url });
    expect(line).toMatch(
      /cannot reach the database at postgres:\/\/agentkey@127\.0\.0\.1:\d+\/app \(ECONNREFUSED\): check DATABASE_URL/,
    );
    expect(line).not.toContain('s3cret-pw');
  }, 120_000);

  it('an unreachable REDIS_URL names it', async () => {
    const line = await refused([], { REDIS_URL: `redis://:pw-123@127.0.0.1:${await freePort()}` });
    expect(line).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+ \(.+\): check REDIS_URL/);
    expect(line).not.toContain('pw-123');
  }, 120_000);

  it('a port in use names --port', async () => {
    const dir = fresh();
    const gw = await startGateway('node', ['--port', '0', '--data', dir]);
    try {
      const port = new URL(gw.url).port;
      const line = await refused(['--port', port], {});
      expect(line).toMatch(
        new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\): pick another --port`),
      );
    } finally {
      await gw.stop();
    }
  }, 120_000);

  it('a second gateway on the same folder says who holds it', async () => {
    const dir = fresh();
    const gw = await startGateway('node', ['--port', '0', '--data', dir]);
    try {
      const run = await failedStart(['--port', '0', '--data', dir], gatewayEnv());
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(
        new RegExp(
          `^agentkey gateway: ${dir} is in use by another gateway \\(pid \\d+, ${gw.url}\\): stop it, or start this one with --data DIR\\n$`,
        ),
      );
      // The first one is untouched: it still answers.
      expect((await fetch(`${gw.url}/v1/me`)).status).toBe(401);
    } finally {
      await gw.stop();
    }
  }, 120_000);
});
