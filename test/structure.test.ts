import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The layout is part of the design: small files a reviewer can read whole, and package tests laid
 * out like the code they test. (Import cycles are refused by Biome's noImportCycles rule.)
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const MAX_LINES = 300;

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

const packages = readdirSync(join(root, 'packages'));

describe('source layout', () => {
  it(`keeps every file in packages/*/src at or under ${MAX_LINES} lines`, () => {
    const long = packages.flatMap((pkg) =>
      filesUnder(join(root, 'packages', pkg, 'src'))
        .map((file) => ({ file: relative(root, file), lines: readFileSync(file, 'utf8').split('\n').length }))
        .filter(({ lines }) => lines > MAX_LINES + 1),
    );
    expect(long).toEqual([]);
  });

  it("lays out each package's tests like its src: every test folder names a src folder", () => {
    const strays = packages.flatMap((pkg) => {
      const src = join(root, 'packages', pkg, 'src');
      const test = join(root, 'packages', pkg, 'test');
      return filesUnder(test)
        .filter((file) => file.endsWith('.test.ts'))
        .map((file) => relative(test, file).split('/').slice(0, -1).join('/'))
        .filter((folder) => folder !== '' && !isDirectory(join(src, folder)))
        .map((folder) => `packages/${pkg}/test/${folder}`);
    });
    expect([...new Set(strays)]).toEqual([]);
  });

  it('package tests reach the shared harness by name, never through ../ paths out of the package', () => {
    const reaching = packages.flatMap((pkg) =>
      filesUnder(join(root, 'packages', pkg, 'test'))
        .filter((file) => file.endsWith('.ts'))
        .filter((file) => /from '(\.\.\/)+test\/support\//.test(readFileSync(file, 'utf8')))
        .map((file) => relative(root, file)),
    );
    expect(reaching).toEqual([]);
  });
});

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
