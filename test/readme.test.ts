import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { AgentKey } from '@agentkey/core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ClerkStub, tokenJson } from '../packages/clerk/test/support/clerk-stub.js';
import { type IdpStandIn, startIdp } from '../packages/oidc/test/support/idp-server.js';
import { makeKey, mint } from '../packages/oidc/test/support/keys.js';
import { databaseUrl, serverPool } from './support/db.js';
import { ACCESS_ENV, accessFlow } from './support/readme-access.js';
import { consoleVisit } from './support/readme-console.js';
import {
  exampleText,
  POOL_LEFT_OPEN,
  READMES,
  type Run,
  readmeBlocks,
  root,
  runExample,
} from './support/readme-run.js';

const AUDIENCE = 'https://api.example.com';
const OIDC_ISSUER = 'https://login.example.com/';

type Spec = {
  /** What the example prints when it worked. */
  out?: RegExp;
  /** For a server: one real request to it, given its origin and the example's schema. */
  serve?: (origin: string, schema: string) => Promise<void>;
};

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
let tokens: { OIDC: string; AUTH0: string; CLERK: string };

/** Every README block's file, and what running it must show. */
const EXAMPLES: Record<string, Spec> = {
  'root/quick-start.ts': { out: /minted key \d+: ak_[\s\S]*allowed for acme: 499\.958¢ left/ },
  'root/pglite.ts': { out: /allowed on PGlite: 3¢ left/ },
  'root/holds.ts': { out: /settled at 12\.5¢: key \d+ used 12\.5¢/ },
  'root/idempotency.ts': { out: /two attempts, one charge: key \d+ used 4\.2¢/ },
  'root/spend.ts': { out: /acme spent 3¢/ },
  'root/account-ceiling.ts': { out: /sub-agent's key: allowed\n3¢ more: budget_exceeded \(cap: key\)/ },
  'root/pool.ts': { out: /with the recommended pool: allowed, 9¢ left/ },
  'root/rate-limit.ts': { out: /rate limited: allowed \(49 left\), rate_limited \(cents\)/ },
  'root/migration.ts': {
    async serve(origin) {
      const signup = await fetch(`${origin}/signup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'dev@acme.example' }),
      });
      expect(signup.status).toBe(201);
      const { key } = (await signup.json()) as { key: string };
      const res = await fetch(`${origin}/api/usage`, bearer(key));
      expect({ status: res.status, body: await res.json() }).toEqual({
        status: 200,
        body: { account: 'dev@acme.example' },
      });
    },
  },
  'root/oidc.ts': {
    async serve(origin) {
      const res = await fetch(`${origin}/chat`, { method: 'POST', ...bearer(tokens.OIDC) });
      expect({ status: res.status, body: await res.json() }).toEqual({
        status: 200,
        body: { account: `${OIDC_ISSUER}|client-1` },
      });
    },
  },
  'root/auth0.ts': { out: /POST \/chat → 200 / },
  'root/clerk.ts': { out: /POST \/chat → 200 / },
  'root/mixed.ts': {
    out: /"via":"native"[\s\S]*200 .*"via":"oidc:https:\/\/login\.example\.com\/"[\s\S]*200 .*"via":"auth0:example\.eu\.auth0\.com"[\s\S]*200 .*"via":"clerk"/,
  },
  'core/batching.ts': { out: /accepted/ },
  'core/pglite.ts': { out: /allowed, 40¢ left\nrefused: budget_exceeded/ },
  'express/middleware.ts': {
    async serve(origin, schema) {
      const pool = serverPool(schema, 1);
      try {
        const ak = new AgentKey({ pool });
        await ak.migrate(); // the example's own migrate may still be running: both are safe at once
        const { key } = await ak.create({ accountId: 'acme', scopes: ['usage.read'] });
        const res = await fetch(`${origin}/api/usage`, bearer(key));
        expect({ status: res.status, body: await res.json() }).toEqual({
          status: 200,
          body: { account: 'acme' },
        });
      } finally {
        await pool.end();
      }
    },
  },
  'express/agent-key-auth.ts': {
    async serve(origin) {
      const res = await fetch(`${origin}/chat`, { method: 'POST', ...bearer(tokens.OIDC) });
      expect({ status: res.status, body: await res.json() }).toEqual({
        status: 200,
        body: { caller: `${OIDC_ISSUER}|client-1`, left: 498 },
      });
    },
  },
  'express/hold.ts': { out: /→ 200 Hello, world\n[\s\S]*was charged 12\.5¢ of its 50¢ hold/ },
  'express/principal.ts': { out: /the exported AgentKeyPrincipal: true/ },
  'express/routes.ts': { out: /POST \/signup → 201 \["key","id"/ },
  'express/trust-proxy.ts': { out: /trust proxy: 1/ },
  'express/protected-resource.ts': {
    out: /→ 200 \{"resource":"https:\/\/api\.example\.com","authorization_servers":\["https:\/\/login\.example\.com\/"\],"scopes_supported":\["chat","search"\],"bearer_methods_supported":\["header"\]\}\nPOST \/chat → 401 WWW-Authenticate: Bearer realm="api", resource_metadata="https:\/\/api\.example\.com\/\.well-known\/oauth-protected-resource"/,
  },
  'oidc/verify.ts': { out: /https:\/\/login\.example\.com\/\|client-1 \[ 'chat' \]/ },
  'oidc/first-seen.ts': { out: /accepted/ },
  'auth0/verify.ts': { out: /example\.eu\.auth0\.com\|readme-client/ },
  'clerk/verify.ts': { out: /clerk\|mch_caller/ },
  'clerk/scope-map.ts': { out: /accepted/ },
  'redis/counter.ts': { out: /with Redis in front: ok, ok, budget_exceeded, budget_exceeded/ },
  'redis/changes.ts': { out: /revoked, and the change published: invalid_token/ },
  'access/gateway.ts': { serve: accessFlow },
  'console/mount.ts': { serve: consoleVisit },
  'console/options.ts': { serve: consoleVisit },
  'access/agent.ts': {
    out: /\[ 'github: none' \]\n\{ issues: \[\], path: '\/repos\/octo\/hello\/issues' \}/,
  },
};

const DIR = 'examples/readme/';
const blocks = READMES.flatMap(readmeBlocks);

describe('README code blocks are files', () => {
  it.each(blocks.map((b) => [`${b.readme}:${b.line}`, b] as const))(
    '%s names its file and equals it',
    (_, b) => {
      expect(b.file, 'put <!-- example: examples/readme/… --> on the line above the fence').toMatch(
        /^examples\/readme\//,
      );
      expect(b.text).toBe(exampleText(b.file!));
    },
  );

  it('every example file is shown in a README, and run below', () => {
    // Walked by hand: a recursive readdir descends into node_modules, where another test's build
    // may be replacing a dist/ folder at that moment.
    const walk = (dir: string): string[] =>
      readdirSync(`${root}/${DIR}${dir}`, { withFileTypes: true }).flatMap((entry) =>
        entry.name === 'node_modules'
          ? []
          : entry.isDirectory()
            ? walk(`${dir}${entry.name}/`)
            : [`${dir}${entry.name}`],
      );
    const files = walk('')
      .filter((f) => f.endsWith('.ts') && f !== 'support.ts')
      .sort();
    expect(blocks.map((b) => b.file?.slice(DIR.length)).sort()).toEqual(files);
    expect(Object.keys(EXAMPLES).sort()).toEqual(files);
  });
});

describe('README examples run as written (server only)', () => {
  let idp: IdpStandIn;
  let clerk: ClerkStub;
  let env: Record<string, string>;
  const admin = () => serverPool(undefined, 1);

  beforeAll(async () => {
    idp = await startIdp();
    clerk = await new ClerkStub().start();
    const key = await makeKey('readme-key');
    idp.keys = [key.jwk];
    idp.openidConfiguration = { issuer: OIDC_ISSUER, jwks_uri: `${OIDC_ISSUER}jwks` };
    clerk.tokens.set('mt_readme', { status: 200, token: tokenJson(Date.now()) });
    tokens = {
      OIDC: await mint(
        key,
        { iss: OIDC_ISSUER, aud: AUDIENCE, sub: 'client-1' },
        { claims: { scope: 'chat' } },
      ),
      AUTH0: await mint(
        key,
        { iss: 'https://example.eu.auth0.com/', aud: AUDIENCE, sub: 'readme-client@clients' },
        {
          header: { typ: 'JWT' },
          claims: { azp: 'readme-client', gty: 'client-credentials', scope: 'chat' },
        },
      ),
      CLERK: 'mt_readme',
    };
    env = {
      // Only the IdPs' origins are redirected, to the stand-ins: the examples keep their real URLs.
      AGENTKEY_README_ROUTES: JSON.stringify({
        'https://login.example.com': idp.origin,
        'https://example.eu.auth0.com': idp.origin,
        'https://api.clerk.com': clerk.url,
      }),
      CLERK_MACHINE_SECRET_KEY: 'ak_readme_machine_secret',
      README_TOKEN_OIDC: tokens.OIDC,
      README_TOKEN_AUTH0: tokens.AUTH0,
      README_TOKEN_CLERK: tokens.CLERK,
      ...ACCESS_ENV,
    };
  });
  afterAll(async () => {
    await idp?.close();
    await clerk?.close();
  });

  /** Runs `file` on a schema of its own, as DATABASE_URL's search_path. */
  async function inSchema(file: string, spec: Spec): Promise<Run> {
    const schema = `readme_${randomBytes(6).toString('hex')}`;
    const pool = admin();
    await pool.query(`CREATE SCHEMA ${schema}`);
    try {
      const url = new URL(databaseUrl());
      url.searchParams.set('options', `-c search_path=${schema}`);
      return await runExample(file, {
        env: { ...env, DATABASE_URL: url.toString(), REDIS_URL: inject('redisUrl') },
        ...(spec.serve ? { serve: (origin: string) => spec.serve!(origin, schema) } : {}),
      });
    } finally {
      await pool.query(`DROP SCHEMA ${schema} CASCADE`);
      await pool.end();
    }
  }

  // Each example is its own node process (about a second of tsx start-up each): three at a time.
  const slots = limit(3);
  it.concurrent.for<[string, Spec]>(Object.entries(EXAMPLES))(
    '%s',
    { timeout: 300_000 }, // includes the wait for a slot
    async ([name, spec], { expect }) => {
      const run = await slots(() => inSchema(`${DIR}${name}`, spec));
      const why = `${name}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
      // A server answered its one request and was stopped; anything else must exit 0 by itself.
      if (spec.serve) expect(run.signal, why).toBe('SIGTERM');
      else expect({ code: run.code, signal: run.signal }, why).toEqual({ code: 0, signal: null });
      if (spec.out) expect(run.stdout, why).toMatch(spec.out);
    },
  );

  it('a pool the example never ends fails its run', async () => {
    const run = await inSchema('test/fixtures/pool-left-open.ts', {});
    expect(run.stdout).toMatch(/queried/);
    expect(run.stderr).toContain(POOL_LEFT_OPEN);
    expect(run.code).toBe(3);
  }, 120_000);
});

function limit(n: number) {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (running >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await task();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}
