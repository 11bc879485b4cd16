import { execFile } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const root = fileURLToPath(new URL('../..', import.meta.url));
/** The published packages, dependencies before dependents. */
export const PACKAGES = [
  'core',
  'express',
  'oidc',
  'auth0',
  'clerk',
  'redis',
  'access',
  'console',
  'cli',
] as const;
export type PackageDir = (typeof PACKAGES)[number];

const exec = promisify(execFile);

export interface Manifest {
  name: string;
  version: string;
  description?: string;
  license?: string;
  engines?: { node?: string };
  main?: string;
  types?: string;
  exports?: unknown;
  bin?: string | Record<string, string>;
  files?: string[];
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

export function manifest(dir: PackageDir): Manifest {
  return JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'));
}

/**
 * Runs a command as a user would: without the npm_* settings of the pnpm that started the
 * tests, which would otherwise steer the npm and pnpm run here.
 */
export async function run(command: string, args: string[], cwd: string): Promise<string> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  const { stdout } = await exec(command, args, { cwd, env, timeout: 240_000, maxBuffer: 16 << 20 });
  return stdout;
}

/**
 * `pnpm pack` of every package into `dest`, one at a time in dependency order: each prepack
 * rebuilds its package, and a dependent's build reads its dependencies' fresh types.
 * pnpm, not npm: it turns `workspace:*` into the version, as `pnpm publish` does.
 */
export async function packAll(dest: string): Promise<Map<PackageDir, string>> {
  await run(
    'npx',
    [
      '-y',
      'pnpm@10',
      '-r',
      '--workspace-concurrency=1',
      '--filter',
      './packages/*',
      'pack',
      '--pack-destination',
      dest,
    ],
    root,
  );
  const tarballs = new Map<PackageDir, string>();
  for (const dir of PACKAGES) {
    const { name, version } = manifest(dir);
    tarballs.set(dir, join(dest, `${name.slice(1).replace('/', '-')}-${version}.tgz`));
  }
  return tarballs;
}

/**
 * Third-party packages for the consumer, as links to the copies the workspace installed: every
 * runtime and peer dependency of the published packages, plus what the consumer itself uses.
 * The npm cache may hold none of them, and the test must not need the network.
 */
function workspaceLinks(): Record<string, string> {
  const links: Record<string, string> = {};
  const link = (name: string, from: string) => {
    const path = join(root, from, 'node_modules', name);
    if (!(name in links) && existsSync(path)) links[name] = `file:${realpathSync(path)}`;
  };
  for (const dir of PACKAGES) {
    const { dependencies = {}, peerDependencies = {} } = manifest(dir);
    for (const name of Object.keys({ ...dependencies, ...peerDependencies })) {
      if (!name.startsWith('@agentkey/')) link(name, join('packages', dir));
    }
  }
  link('@electric-sql/pglite', 'packages/core');
  link('@types/express', 'packages/express');
  link('@types/node', '.');
  return links;
}

/** A fresh project in `dir` with the tarballs installed by npm, offline. */
export async function installConsumer(dir: string, tarballs: Map<PackageDir, string>): Promise<void> {
  const dependencies: Record<string, string> = workspaceLinks();
  for (const [pkg, tarball] of tarballs) dependencies[manifest(pkg).name] = `file:${tarball}`;
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, dependencies }));
  await run(
    'npm',
    ['install', '--offline', '--no-audit', '--no-fund', '--no-package-lock', '--ignore-scripts'],
    dir,
  );
}

/** What `main`, `types` and every `exports` target name: each must be in the tarball. */
export function namedPaths(m: Manifest): string[] {
  const paths: string[] = [];
  const walk = (value: unknown): void => {
    if (typeof value === 'string') paths.push(value);
    else if (value && typeof value === 'object') Object.values(value).forEach(walk);
  };
  walk([m.main, m.types, m.exports, m.bin]);
  return paths.map((p) => p.replace(/^\.\//, ''));
}
