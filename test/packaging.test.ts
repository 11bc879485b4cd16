import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as access from '@agentkey/access';
import * as auth0 from '@agentkey/auth0';
import * as clerk from '@agentkey/clerk';
import * as cli from '@agentkey/cli';
import * as agentKeyConsole from '@agentkey/console';
import * as core from '@agentkey/core';
import * as express from '@agentkey/express';
import * as oidc from '@agentkey/oidc';
import * as redis from '@agentkey/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSUMER_TSCONFIG, CONSUMER_TYPES, consoleApp, consumerApp } from './support/consumer.js';
import {
  installConsumer,
  manifest,
  namedPaths,
  PACKAGES,
  type PackageDir,
  packAll,
  root,
  run,
} from './support/packaging.js';

/** The numbered migrations of core's sources, which the packed package must carry and apply. */
const MIGRATIONS = readdirSync(join(root, 'packages/core/src/sql/migrations'))
  .filter((f) => /^\d{3}_.*\.sql$/.test(f))
  .sort();

/** Each package's exports as the workspace sources define them (vitest aliases these to src/). */
const SOURCE: Record<PackageDir, object> = {
  core,
  express,
  oidc,
  auth0,
  clerk,
  redis,
  access,
  console: agentKeyConsole,
  cli,
};
const exportNames = (module: object) => Object.keys(module).sort();

const tar = (tarball: string, ...args: string[]) => run('tar', ['-xzOf', tarball, ...args], root);

// One pack and one install for the whole file. Packing rebuilds any package whose dist/ is
// missing or older than its sources (prepack), so what is tested is what the sources make.
let work: string;
let consumer: string;
let tarballs: Map<PackageDir, string>;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'agentkey-pack-'));
  consumer = join(work, 'consumer');
  mkdirSync(consumer);
  tarballs = await packAll(work);
  await installConsumer(consumer, tarballs);
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed packages', () => {
  it.each(PACKAGES)(
    '@agentkey/%s ships README, LICENSE, both builds and every path it names',
    async (dir) => {
      const tarball = tarballs.get(dir)!;
      const listing = (await run('tar', ['-tzf', tarball], root))
        .split('\n')
        .map((p) => p.replace(/^package\//, ''));
      const shipped = manifest(dir);
      expect(listing).toEqual(expect.arrayContaining(['README.md', 'LICENSE', 'dist/cjs/package.json']));
      expect(listing).toEqual(expect.arrayContaining(namedPaths(shipped)));
      expect(await tar(tarball, 'package/LICENSE')).toBe(readFileSync(join(root, 'LICENSE'), 'utf8'));
      expect(JSON.parse(await tar(tarball, 'package/dist/cjs/package.json'))).toEqual({ type: 'commonjs' });

      const packed = JSON.parse(await tar(tarball, 'package/package.json'));
      expect(JSON.stringify(packed)).not.toMatch(/workspace:/);
      for (const [name, range] of Object.entries<string>(packed.dependencies ?? {})) {
        if (name.startsWith('@agentkey/')) expect(range).toBe(shipped.version);
      }
      expect(packed).toMatchObject({ license: 'MIT', engines: { node: expect.any(String) } });
      expect(packed.description).toEqual(expect.any(String));
    },
  );
});

describe('the packed command', () => {
  it('`agentkey` runs from an install of @agentkey/cli', async () => {
    // package.json's bin once named a file the build never made: the installed command failed.
    const help = await run(join(consumer, 'node_modules/.bin/agentkey'), ['--help'], consumer);
    expect(help).toMatch(/^Usage: agentkey /m);
    expect(help).toMatch(/keys\b/);
  });
});

describe('the published declarations', () => {
  it("leave out what is @internal: the exports for sibling packages and the Gate's store port", async () => {
    const core = tarballs.get('core')!;
    const index = await tar(core, 'package/dist/esm/index.d.ts');
    const agentKey = await tar(core, 'package/dist/esm/agent-key.d.ts');
    for (const name of [
      'costToMicros',
      'MAX_BUDGET_CENTS',
      'PERIODS',
      'parseDuration',
      'isScope',
      'grantsAll',
    ]) {
      expect(index).not.toMatch(new RegExp(`\\b${name}\\b`));
      expect(exportNames(SOURCE.core)).toContain(name); // still there at run time, for the siblings
    }
    expect(index).toMatch(/\bAgentKey\b/);
    expect(agentKey).not.toMatch(/GATE_STORE\]|provisionSubject|checkSubjectOptions/);
    expect(await tar(core, 'package/dist/cjs/index.d.ts')).toBe(index);
  });
});

describe('installed from the tarballs in a fresh project', () => {
  it('require() and import each give every export the source has', async () => {
    const names = PACKAGES.map((dir) => manifest(dir).name);
    const cjs = `console.log(JSON.stringify(${JSON.stringify(names)}.map((n) => Object.keys(require(n)).sort())))`;
    const esm = `const names = ${JSON.stringify(names)};
      const all = await Promise.all(names.map((n) => import(n)));
      console.log(JSON.stringify(all.map((m) => Object.keys(m).sort())))`;
    const required = JSON.parse(await run(process.execPath, ['-e', cjs], consumer));
    const imported = JSON.parse(await run(process.execPath, ['--input-type=module', '-e', esm], consumer));
    const expected = PACKAGES.map((dir) => exportNames(SOURCE[dir]));
    expect(required).toEqual(expected);
    expect(imported).toEqual(expected);
    expect(expected[0]).toEqual(
      expect.arrayContaining(['AgentKey', 'fromPGlite', 'Gate', 'AgentKeyInputError']),
    );
  });

  it('require() and import resolve to the two builds', async () => {
    const required = await run(process.execPath, ['-p', `require.resolve('@agentkey/core')`], consumer);
    const imported = await run(
      process.execPath,
      ['--input-type=module', '-e', `console.log(import.meta.resolve('@agentkey/core'))`],
      consumer,
    );
    expect(required.trim()).toMatch(/\/node_modules\/@agentkey\/core\/dist\/cjs\/index\.js$/);
    expect(imported.trim()).toMatch(/\/node_modules\/@agentkey\/core\/dist\/esm\/index\.js$/);
  });

  it('without require(esm), as on Node before 20.19, only the packages on ES-module-only dependencies cannot be required', async () => {
    const esmOnly = /require\(\) of ES Module \S*\/node_modules\/((?:@[\w.-]+\/)?[\w.-]+)\//;
    const load = (name: string) =>
      run(process.execPath, ['--no-experimental-require-module', '-e', `require('${name}')`], consumer).then(
        () => 'loads',
        (error) => {
          const dependency = esmOnly.exec(error.stderr)?.[1];
          return dependency ? `needs require(esm) for ${dependency}` : error.stderr;
        },
      );
    const outcomes = Object.fromEntries(
      await Promise.all(PACKAGES.map(async (dir) => [dir, await load(manifest(dir).name)])),
    );
    expect(outcomes).toEqual({
      core: 'loads',
      express: 'loads',
      clerk: 'loads',
      oidc: 'needs require(esm) for jose',
      auth0: 'needs require(esm) for jose',
      redis: 'loads',
      access: 'loads',
      // openid-client (an ES module) is imported only when OIDC sign-in is configured.
      console: 'loads',
      cli: 'needs require(esm) for @bomb.sh/tab',
    });
  });

  it.each([
    ['CommonJS', 'cjs'],
    ['ES module', 'esm'],
  ] as const)('%s: an Express app guards its routes with a key stored in PGlite', async (_, kind) => {
    const file = join(consumer, `app.${kind === 'cjs' ? 'cjs' : 'mjs'}`);
    writeFileSync(file, consumerApp(kind));
    const seen = JSON.parse(await run(process.execPath, [file], consumer));
    expect(seen).toEqual({ legacy: ['acme', 401, 401], gate: ['acme', 401, 401] });
  });

  it.each([
    ['CommonJS', 'cjs'],
    ['ES module', 'esm'],
  ] as const)(
    '%s: the mounted console serves its own assets and uPlot from the packed copy',
    async (_, kind) => {
      const file = join(consumer, `console.${kind === 'cjs' ? 'cjs' : 'mjs'}`);
      writeFileSync(file, consoleApp(kind));
      const served = JSON.parse(await run(process.execPath, [file], consumer));
      const own = (name: string) => readFileSync(join(root, 'packages/console/assets', name), 'utf8');
      const uplot = readFileSync(
        createRequire(join(root, 'packages/console/package.json')).resolve('uplot/dist/uPlot.iife.min.js'),
        'utf8',
      );
      expect(served).toEqual({
        'console.js': [200, own('console.js')],
        'console.css': [200, own('console.css')],
        'uPlot.iife.min.js': [200, uplot],
        'nothing.js': [404, 'Not found.'],
      });
    },
    120_000,
  );

  it.each([
    ['CommonJS', 'cjs'],
    ['ES module', 'esm'],
  ] as const)(
    '%s: migrate() runs from the packed package (its SQL embedded) and the engine charges',
    async (_, kind) => {
      const load =
        kind === 'cjs'
          ? `const { AgentKey, fromPGlite } = require('@agentkey/core');\nconst { PGlite } = require('@electric-sql/pglite');`
          : `import { AgentKey, fromPGlite } from '@agentkey/core';\nimport { PGlite } from '@electric-sql/pglite';`;
      const file = join(consumer, `charge.${kind === 'cjs' ? 'cjs' : 'mjs'}`);
      writeFileSync(
        file,
        `${load}
(async () => {
  const db = new PGlite();
  const ak = new AgentKey({ pool: fromPGlite(db) });
  await ak.migrate();
  await ak.migrate();
  const { key } = await ak.create({ accountId: 'acme', budgetCents: 5 });
  const outcome = (r) => (r.ok ? 'ok' : r.error.code);
  const seen = [outcome(await ak.authorize(key, { costCents: 2 })), outcome(await ak.authorize(key, { costCents: 9 }))];
  const held = await ak.authorize(key, { holdCents: 3, idempotencyKey: 'once' });
  seen.push(outcome(held), outcome(await ak.settle(held.hold.id, { costCents: 1 })));
  const { rows } = await db.query('SELECT name FROM sdk_api_keys_schema_version ORDER BY name');
  seen.push(rows.map((r) => r.name), (await ak.validate(key)).budgetUsedCents);
  await db.close();
  console.log(JSON.stringify(seen));
})().catch((error) => { console.error(error); process.exit(1); });
`,
      );
      const seen = JSON.parse(await run(process.execPath, [file], consumer));
      expect(seen).toEqual([
        'ok',
        'budget_exceeded',
        'ok',
        'ok',
        // Every numbered migration the sources hold, then the functions' row.
        [...MIGRATIONS, 'functions'],
        3,
      ]);
    },
  );

  it('TypeScript (module node16) types a .cts file through require and a .mts file through import', async () => {
    writeFileSync(join(consumer, 'types.cts'), CONSUMER_TYPES);
    writeFileSync(join(consumer, 'types.mts'), CONSUMER_TYPES);
    writeFileSync(join(consumer, 'tsconfig.json'), CONSUMER_TSCONFIG);
    const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
    // tsc exits 1 for errors in third-party declarations (PGlite's, Clerk's) that we cannot fix.
    const files = await run(process.execPath, [tsc, '-p', '.', '--listFiles'], consumer).catch(
      (error) => error.stdout as string,
    );
    const ours = files
      .split('\n')
      .filter((line) => /^(types\.[cm]ts|node_modules\/@agentkey\/).*error TS/.test(line));
    expect(ours).toEqual([]);
    for (const dir of PACKAGES) {
      expect(files).toContain(`/node_modules/@agentkey/${dir}/dist/cjs/index.d.ts`);
      expect(files).toContain(`/node_modules/@agentkey/${dir}/dist/esm/index.d.ts`);
    }
  }, 180_000); // one tsc over nine packages' declarations and their dependencies'
});
