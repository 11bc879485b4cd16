/**
 * What a user of the published packages writes, once, in a form each module system can load:
 * the bindings come in through `require` (CommonJS) or `import` (ES module), the rest is the same.
 */
const BINDINGS: Array<[module: string, names: string[]]> = [
  ['@agentkey/core', ['AgentKey', 'fromPGlite']],
  ['@agentkey/express', ['agentKeyAuth', 'agentKeyMiddleware']],
  ['@agentkey/auth0', ['auth0Verifier']],
  ['@agentkey/clerk', ['clerkVerifier']],
  ['@agentkey/oidc', ['oidcVerifier']],
  ['@electric-sql/pglite', ['PGlite']],
];

export type ModuleKind = 'cjs' | 'esm';

function bindings(kind: ModuleKind): string {
  const lines = BINDINGS.map(([module, names]) =>
    kind === 'cjs'
      ? `const { ${names.join(', ')} } = require('${module}');`
      : `import { ${names.join(', ')} } from '${module}';`,
  );
  lines.push(kind === 'cjs' ? `const express = require('express');` : `import express from 'express';`);
  return lines.join('\n');
}

/** How each script ends: the server and the database closed, what it saw printed, a failure exit 1. */
const ENDING = `  server.close();
  await db.close();
  console.log(JSON.stringify(seen));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
`;

/**
 * An Express app on a key stored in PGlite: the 0.2.0 middleware on one route, the one gate with
 * every verifier on another. Prints each route's status for a good key, a wrong one and none.
 */
export function consumerApp(kind: ModuleKind): string {
  return `${bindings(kind)}

async function main() {
  const db = new PGlite();
  const ak = new AgentKey({ pool: fromPGlite(db) });
  await ak.migrate();
  const { key } = await ak.create({ accountId: 'acme', scopes: ['read'] });
  const verifiers = [
    oidcVerifier({ issuer: 'https://login.example.com/', audience: 'https://api.example.com' }),
    auth0Verifier({ domain: 'example.eu.auth0.com', audience: 'https://api.example.com' }),
    clerkVerifier({ secretKey: 'sk_test_packaging' }),
  ];
  const app = express();
  const answer = (req, res) => res.json({ accountId: req.agentKey.accountId });
  app.get('/legacy', agentKeyMiddleware(ak, { scope: 'read' }), answer);
  app.get('/gate', agentKeyAuth({ agentKey: ak, verifiers, scope: 'read' }), answer);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const seen = {};
  for (const route of ['legacy', 'gate']) {
    seen[route] = [];
    for (const authorization of ['Bearer ' + key, 'Bearer ak_wrong', undefined]) {
      const headers = authorization ? { authorization } : {};
      const res = await fetch('http://127.0.0.1:' + server.address().port + '/' + route, { headers });
      seen[route].push(res.status === 200 ? (await res.json()).accountId : res.status);
    }
  }
${ENDING}`;
}

/**
 * The console mounted in an Express app on PGlite: prints, for each asset its pages link to (and
 * one it does not have), the status and body served. The assets are files the package must find
 * from its own build, whichever module system loaded it.
 */
export function consoleApp(kind: ModuleKind): string {
  const load =
    kind === 'cjs'
      ? `const { AgentKey, fromPGlite } = require('@agentkey/core');
const { agentKeyConsole } = require('@agentkey/console');
const { PGlite } = require('@electric-sql/pglite');
const express = require('express');`
      : `import { AgentKey, fromPGlite } from '@agentkey/core';
import { agentKeyConsole } from '@agentkey/console';
import { PGlite } from '@electric-sql/pglite';
import express from 'express';`;
  return `${load}

async function main() {
  const db = new PGlite();
  const pool = fromPGlite(db);
  const ak = new AgentKey({ pool });
  await ak.migrate();
  const app = express();
  app.use('/agentkey', agentKeyConsole({ agentKey: ak, pool }));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const seen = {};
  for (const name of ['console.js', 'console.css', 'uPlot.iife.min.js', 'nothing.js']) {
    const res = await fetch('http://127.0.0.1:' + server.address().port + '/agentkey/static/' + name);
    seen[name] = [res.status, await res.text()];
  }
${ENDING}`;
}

/**
 * The same TypeScript for a .cts and a .mts file: under module node16 the first resolves the
 * packages through their \`require\` types, the second through their \`import\` types.
 * The @ts-expect-error lines fail the compile if a package's types come out as \`any\`.
 */
export const CONSUMER_TYPES = `import { AgentKey, fromPGlite, type ValidateFailure, type ValidateResult } from '@agentkey/core';
import { agentKeyAuth, agentKeyMiddleware } from '@agentkey/express';
import { auth0Verifier } from '@agentkey/auth0';
import { clerkVerifier } from '@agentkey/clerk';
import { oidcVerifier } from '@agentkey/oidc';
import { Access } from '@agentkey/access';
import { main, type Io } from '@agentkey/cli';
import { agentKeyConsole, type ConsoleOidcOptions } from '@agentkey/console';
import { redisCounter } from '@agentkey/redis';
import { PGlite } from '@electric-sql/pglite';
import express from 'express';

const ak = new AgentKey({ pool: fromPGlite(new PGlite()) });
const pool = fromPGlite(new PGlite());
const oidc: ConsoleOidcOptions = { issuer: 'https://login.example.com/', clientId: 'console' };
export const admin = agentKeyConsole({ agentKey: ak, pool, access: new Access({ ak, pool }), oidc });
// @ts-expect-error the console needs the pool
agentKeyConsole({ agentKey: ak });
export const counter: typeof redisCounter = redisCounter;
export const run: typeof main = main;
export type CliIo = Io;
// @ts-expect-error the pool is required
new AgentKey({});
export const checked: Promise<ValidateResult | ValidateFailure> = ak.validate('ak_x');
// @ts-expect-error a cost is a number of cents
ak.trackUsage('ak_x', { costCents: 'one' });

const app = express();
app.get('/legacy', agentKeyMiddleware(ak, { scope: 'read' }), (req, res) => {
  res.json({ accountId: req.agentKey?.accountId });
});
app.use(
  agentKeyAuth({
    agentKey: ak,
    verifiers: [
      oidcVerifier({ issuer: 'https://login.example.com/', audience: 'https://api.example.com' }),
      auth0Verifier({ domain: 'example.eu.auth0.com', audience: 'https://api.example.com' }),
      clerkVerifier({ secretKey: 'sk_test_packaging' }),
    ],
  }),
);
// @ts-expect-error auth0Verifier needs a domain
auth0Verifier({ audience: 'https://api.example.com' });
`;

export const CONSUMER_TSCONFIG = JSON.stringify({
  compilerOptions: {
    module: 'node16',
    target: 'es2022',
    strict: true,
    noEmit: true,
    esModuleInterop: true,
    // Our declaration files are checked too; errors in third-party ones are filtered out.
    skipLibCheck: false,
    types: ['node'],
  },
  files: ['types.cts', 'types.mts'],
});
