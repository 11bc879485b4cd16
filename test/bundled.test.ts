import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { root, run } from './support/packaging.js';

/**
 * Applications that deploy one bundled file (esbuild, as serverless and container builds commonly
 * do) ship @agentkey/core's modules inside the bundle, and nothing else of the package. agentkey
 * 0.3.0 kept its SQL in its modules, so a bundled app could migrate(); SQL read from .sql files
 * beside the modules at run time is not in the bundle.
 */
// esbuild comes with tsx (a workspace dev dependency); resolved from there, not installed anew.
const esbuild = createRequire(realpathSync(join(root, 'node_modules/tsx/package.json')))('esbuild') as {
  build(options: Record<string, unknown>): Promise<unknown>;
};

const APP = `import { AgentKey, fromPGlite } from ${JSON.stringify(join(root, 'packages/core/src/index.ts'))};
import { PGlite } from '@electric-sql/pglite';
(async () => {
  const db = new PGlite();
  const ak = new AgentKey({ pool: fromPGlite(db) });
  await ak.migrate();
  const { key } = await ak.create({ accountId: 'bundled', budgetCents: 5 });
  const held = await ak.authorize(key, { costCents: 1, holdCents: 2, idempotencyKey: 'once' });
  console.log(JSON.stringify(held.ok ? 'ok' : held.error.code));
  await db.close();
})().catch((error) => {
  console.error(String(error));
  process.exit(1);
});
`;

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'agentkey-bundle-'));
  writeFileSync(join(work, 'app.mts'), APP);
  // Only PGlite stays outside the bundle (its WebAssembly is loaded from its own folder).
  mkdirSync(join(work, 'node_modules/@electric-sql'), { recursive: true });
  symlinkSync(
    realpathSync(join(root, 'packages/core/node_modules/@electric-sql/pglite')),
    join(work, 'node_modules/@electric-sql/pglite'),
  );
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('an application bundled into one file', () => {
  it.each(['esm', 'cjs'] as const)('(%s) migrates and charges', async (format) => {
    const outfile = join(work, `dist-${format}`, format === 'esm' ? 'app.mjs' : 'app.cjs');
    await esbuild.build({
      entryPoints: [join(work, 'app.mts')],
      bundle: true,
      platform: 'node',
      format,
      target: 'node20',
      outfile,
      external: ['@electric-sql/pglite', 'pg'],
      logLevel: 'silent',
    });
    symlinkSync(join(work, 'node_modules'), join(work, `dist-${format}`, 'node_modules'));
    const out = await run(process.execPath, [outfile], join(work, `dist-${format}`)).catch(
      (error) =>
        `failed: ${
          String(error.stderr)
            .split('\n')
            .find((l: string) => /Error/.test(l)) ?? error.stderr
        }`,
    );
    expect(out.trim()).toBe('"ok"');
  });
});
