// Builds one package (the current directory) for both module systems from its one
// tsconfig.build.json: ESM into dist/esm, CommonJS into dist/cjs, each with its .d.ts files, so
// `import` and `require` consumers both get code and types.
//   node ../../scripts/package.mjs build     always builds
//   node ../../scripts/package.mjs prepack   builds unless dist/ is newer than everything it is
//                                            made from, then puts the workspace LICENSE in the package
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const step = process.argv[2];
if (step !== 'build' && step !== 'prepack') {
  console.error(`usage: package.mjs build | prepack (got ${step ?? 'nothing'})`);
  process.exit(2);
}

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const tsconfigBase = fileURLToPath(new URL('../tsconfig.base.json', import.meta.url));
// Written last: its presence means the build finished, its age when.
const MARKER = 'dist/cjs/package.json';

const run = (...args) =>
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', ...args], { stdio: 'inherit' });

function build() {
  // A file removed from src/ must not live on in dist/.
  rmSync('dist', { recursive: true, force: true });
  // ESM, type-checked, with declarations. Members marked @internal (public for the sibling
  // packages or the Gate, not for applications) are left out of them, so a sibling is checked
  // against its dependencies' sources (the `source` condition), which still have them.
  run('--outDir', 'dist/esm', '--stripInternal', '--customConditions', 'source');
  // CommonJS: the same sources, emitted as require() calls. Checking them again under CommonJS
  // rules would add nothing (the ESM pass checked them) and cannot work: node10 resolution ignores
  // `exports`, through which @clerk/backend's types reach @clerk/shared. verbatimModuleSyntax
  // forbids the import-to-require rewrite that this pass exists for.
  run(
    '--outDir',
    'dist/cjs',
    '--module',
    'commonjs',
    '--moduleResolution',
    'node10',
    '--verbatimModuleSyntax',
    'false',
    // `import express from 'express'` must mean module.exports under require() too, as it does
    // under import: without interop it would read express's (missing) `default` export.
    '--esModuleInterop',
    'true',
    '--noCheck',
    '--declaration',
    'false',
    '--declarationMap',
    'false',
  );
  // `import.meta` is a syntax error in CommonJS, and tsc copies it through unchanged: give the
  // CommonJS files the same URL from __filename (the console finds its assets/ folder by it).
  for (const entry of readdirSync('dist/cjs', { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith('.js'))
      shimImportMeta(join(entry.parentPath ?? entry.path, entry.name));
  }
  // The declarations read the same either way; under dist/cjs they describe the CommonJS files.
  cpSync('dist/esm', 'dist/cjs', { recursive: true, filter: (path) => !/\.js(\.map)?$/.test(path) });
  for (const entry of readdirSync('dist/cjs', { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith('.d.ts'))
      typesFromEsmOnly(join(entry.parentPath ?? entry.path, entry.name));
  }
  // The packages are "type": "module"; this marks dist/cjs's .js and .d.ts files as CommonJS.
  writeFileSync(MARKER, '{ "type": "commonjs" }\n');
}

/** `import.meta.url` → the file's own URL, the one thing ESM sources here read from import.meta. */
function shimImportMeta(file) {
  const text = readFileSync(file, 'utf8');
  if (!text.includes('import.meta')) return;
  const shimmed = text.replaceAll('import.meta.url', 'require("node:url").pathToFileURL(__filename).href');
  if (shimmed.includes('import.meta')) throw new Error(`${file}: import.meta other than import.meta.url`);
  writeFileSync(file, shimmed);
}

/** A dependency with no CommonJS entry (jose): CommonJS code reaches it only through require(esm). */
function esmOnly(name) {
  const path = join('node_modules', name, 'package.json');
  if (!existsSync(path)) return false;
  const { type, exports } = JSON.parse(readFileSync(path, 'utf8'));
  const root = typeof exports === 'object' && exports !== null && '.' in exports ? exports['.'] : exports;
  return type === 'module' && !(typeof root === 'object' && root !== null && 'require' in root);
}

/**
 * In a CommonJS declaration file, TypeScript (module node16) refuses a type import from an ES
 * module unless the import says it resolves as one: `with { 'resolution-mode': 'import' }`.
 */
function typesFromEsmOnly(file) {
  const text = readFileSync(file, 'utf8');
  const rewritten = text.replace(
    /^import (type )?\{([^}]*)\} from '([^']+)';$/gm,
    (line, _type, names, from) => {
      if (!esmOnly(from)) return line;
      const bare = names.replace(/\btype /g, '').trim();
      return `import type { ${bare} } from '${from}' with { 'resolution-mode': 'import' };`;
    },
  );
  const left = /^(?:import|export) .* from '([^']+)';$/gm;
  for (const [line, from] of rewritten.matchAll(left)) {
    if (esmOnly(from) && !line.includes('resolution-mode')) throw new Error(`${file}: cannot mark "${line}"`);
  }
  if (rewritten !== text) writeFileSync(file, rewritten);
}

/** True when some input of the build is newer than its last finished output. */
function stale() {
  if (!existsSync(MARKER)) return true;
  const built = statSync(MARKER).mtimeMs;
  // Folders too: removing a source file changes only its folder's time.
  const inputs = ['package.json', 'tsconfig.build.json', tsconfigBase, fileURLToPath(import.meta.url), 'src'];
  for (const entry of readdirSync('src', { recursive: true, withFileTypes: true })) {
    inputs.push(`${entry.parentPath ?? entry.path}/${entry.name}`);
  }
  return inputs.some((path) => statSync(path).mtimeMs > built);
}

if (step === 'build' || stale()) build();
if (step === 'prepack') copyFileSync(new URL('../LICENSE', import.meta.url), 'LICENSE');
