import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, root, startGateway } from '../support/gateway.js';
import { adminKey, get } from '../support/gateway-walk.js';

/**
 * The `agentkey` CLI next to a gateway running on its embedded PGlite (the default of every
 * newcomer): it reaches the folder through the URL the gateway publishes in gateway.json, and its
 * writes and the gateway's charges are ordered by the one queue of the served PGlite.
 */

const cwd = mkdtempSync(join(tmpdir(), 'agentkey-gw-cli-'));
const data = join(cwd, '.agentkey');
let gw: Gateway;
let pid: number;

beforeAll(async () => {
  gw = await startGateway('node', ['--port', '0', '--data', data], gatewayEnvIn());
  pid = JSON.parse(readFileSync(join(data, 'gateway.json'), 'utf8')).pid;
}, 120_000);
afterAll(async () => {
  await gw?.stop(pid);
  rmSync(cwd, { recursive: true, force: true });
});

function gatewayEnvIn(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'AGENTKEY_TABLE', 'AGENTKEY_DATA', 'OIDC_ISSUER'])
    delete env[name];
  return env;
}

// By URL: `--import tsx` would resolve from the child's working directory, a temporary folder.
const TSX = pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href;

type Ran = { code: number; out: string; err: string };

/** The CLI as a child process, in `cwd` (so its default folder is the gateway's). */
function cli(argv: string[], env: Record<string, string> = {}): ChildProcess & { done: Promise<Ran> } {
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', TSX, join(root, 'packages/cli/src/main.ts'), ...argv],
    { cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env } },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (c) => {
    out += c;
  });
  child.stderr.on('data', (c) => {
    err += c;
  });
  const done = new Promise<Ran>((resolve) =>
    child.on('close', (code) => resolve({ code: code ?? -1, out, err })),
  );
  return Object.assign(child, { done });
}

async function ok(argv: string[], env: Record<string, string> = {}): Promise<string> {
  const ran = await cli(argv, env).done;
  if (ran.code !== 0) throw new Error(`agentkey ${argv.join(' ')} exited ${ran.code}: ${ran.err}`);
  return ran.out;
}

async function complete(key: string, body: Record<string, unknown>) {
  const res = await fetch(`${gw.url}/v1/complete`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('the CLI while the gateway runs on its PGlite folder', () => {
  it('gateway.json publishes a loopback URL with a password, readable by its owner only', async () => {
    const path = join(data, 'gateway.json');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const url = new URL(JSON.parse(readFileSync(path, 'utf8')).databaseUrl);
    expect(url.hostname).toBe('127.0.0.1');
    expect(url.password.length).toBeGreaterThanOrEqual(24);
    url.password = 'wrong';
    const client = new pg.Client({ connectionString: url.href });
    await expect(client.connect()).rejects.toThrow(/password authentication failed/);
  });

  it('lists the demo key from the default folder, --pglite DIR and AGENTKEY_DATA', async () => {
    expect((await complete(gw.demo.key, { prompt: 'hi' })).status).toBe(200);
    for (const [args, env] of [
      [[], {}],
      [['--pglite', data], {}],
      [[], { AGENTKEY_DATA: data }],
    ] as Array<[string[], Record<string, string>]>) {
      const keys = JSON.parse(
        await ok(['keys', 'list', '--account', 'demo', '--json', ...args], env),
      ) as Array<{
        id: number;
      }>;
      expect(keys.map((k) => k.id)).toContain(gw.demo.id);
    }
  }, 120_000);

  it("a CLI top-up is what the gateway's next /v1/me shows", async () => {
    const before = (await get(gw, '/v1/me', gw.demo.key)).body.budget as { limitCents: number };
    await ok(['budget', 'topup', '--key', String(gw.demo.id), '--cents', '7']);
    const after = (await get(gw, '/v1/me', gw.demo.key)).body.budget as { limitCents: number };
    expect(after.limitCents).toBe(before.limitCents + 7);
  }, 60_000);

  it('ledger --follow prints a charge made through the gateway', async () => {
    const follower = cli(['ledger', '--follow', '--json', '--interval', '50', '--limit', '1']);
    outOf(follower);
    try {
      const prompt = `follow-${Date.now()}`;
      // The follower is up once it printed the newest entry.
      await until(() => outOf(follower).includes('\n'));
      const res = await complete(gw.demo.key, { prompt, max_tokens: 3 });
      expect(res.status).toBe(200);
      await until(() =>
        outOf(follower)
          .split('\n')
          .some(
            (l) =>
              l.includes('"kind":"charge"') &&
              l.includes(`"keyId":${gw.demo.id}`) &&
              l !== firstLine(follower),
          ),
      );
    } finally {
      follower.kill('SIGINT');
      await follower.done;
    }
  }, 60_000);

  it('many gateway charges while the CLI writes: every counter equals its ledger', async () => {
    const created = JSON.parse(
      await ok(['keys', 'create', '--account', 'demo', '--budget', '1000', '--scopes', 'chat', '--json']),
    ) as { id: number; key: string };
    const calls = Array.from({ length: 40 }, (_, i) =>
      complete(created.key, { prompt: `p${i}`, max_tokens: 5 }),
    );
    const writes = [
      ok(['budget', 'topup', '--key', String(created.id), '--cents', '10']),
      ok(['budget', 'topup', '--key', String(created.id), '--cents', '20']),
      ok(['budget', 'topup', '--key', String(gw.demo.id), '--cents', '1']),
      ok(['keys', 'update', String(created.id), '--name', 'busy']),
    ];
    const answers = await Promise.all(calls);
    await Promise.all(writes);
    const charged = answers
      .filter((a) => a.status === 200)
      .reduce((s, a) => s + Number(a.body.charged_cents), 0);
    expect(answers.filter((a) => a.status === 200).length).toBeGreaterThan(0);
    const key = await adminKey(gw, created.id);
    expect(key.budget.limitCents).toBe(1030);
    expect(key.budget.usedCents).toBeCloseTo(charged, 6);
    expect(key.ledgerCents).toBeCloseTo(key.budget.usedCents, 6);
    const demo = await adminKey(gw, gw.demo.id);
    expect(demo.ledgerCents).toBeCloseTo(demo.budget.usedCents, 6);
    expect(gw.stderr()).not.toMatch(/agentkey gateway \(/);
  }, 180_000);
});

const outs = new WeakMap<ChildProcess, string>();
function outOf(child: ChildProcess): string {
  if (!outs.has(child)) {
    outs.set(child, '');
    child.stdout?.on('data', (c) => outs.set(child, outs.get(child) + String(c)));
  }
  return outs.get(child)!;
}
function firstLine(child: ChildProcess): string {
  return outOf(child).split('\n')[0]!;
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('timed out waiting');
}
