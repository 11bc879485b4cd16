import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const LISTENING = 'agentkey-readme: listening on port ';
export const POOL_LEFT_OPEN = 'agentkey-readme: a pg.Pool was never ended (call pool.end())';

/** Every README whose TypeScript blocks must be files a test runs. */
export const READMES = [
  'README.md',
  'access',
  'auth0',
  'clerk',
  'console',
  'cli',
  'core',
  'express',
  'oidc',
  'redis',
].map((p) => (p.endsWith('.md') ? p : `packages/${p}/README.md`));

export interface ReadmeBlock {
  readme: string;
  line: number;
  /** The file named by the `<!-- example: path -->` line right above the fence; null if none. */
  file: string | null;
  text: string;
}

const MARKER = /^<!-- example: (\S+) -->$/;

export interface Fence {
  readme: string;
  line: number;
  /** The fence's info string: `ts`, `sh`, `mermaid`, … ('' for a bare fence). */
  lang: string;
  /** The line right above the fence (where an example marker goes). */
  above: string;
  text: string;
}

/** Every fenced block of the README, whatever its language. */
export function readmeFences(readme: string): Fence[] {
  const lines = readFileSync(`${root}/${readme}`, 'utf8').split('\n');
  const fences: Fence[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(\s*)```(\w*)\s*$/.exec(lines[i]!);
    if (!fence) continue;
    const end = lines.findIndex((l, j) => j > i && /^\s*```\s*$/.test(l));
    const text = `${lines.slice(i + 1, end).join('\n')}\n`;
    fences.push({ readme, line: i + 1, lang: fence[2]!, above: lines[i - 1] ?? '', text });
    i = end;
  }
  return fences;
}

export const isTypeScript = (fence: Fence): boolean => ['ts', 'typescript'].includes(fence.lang);

/** The README's ```ts blocks, each with the example file its marker names. */
export function readmeBlocks(readme: string): ReadmeBlock[] {
  return readmeFences(readme)
    .filter(isTypeScript)
    .map(({ line, above, text }) => ({ readme, line, file: MARKER.exec(above)?.[1] ?? null, text }));
}

/**
 * Biome formats the blocks in the READMEs but not the files under examples/readme (a region's
 * indentation in its harness differs from the README's): write a block as Biome leaves it.
 *
 * What a README block must equal: the file, or, when the file wraps a fragment in a harness, the
 * lines between `// #region readme` and `// #endregion readme`, less their common indentation.
 */
export function exampleText(file: string): string {
  const text = readFileSync(`${root}/${file}`, 'utf8');
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === '// #region readme');
  if (start < 0) return text;
  const end = lines.findIndex((l, i) => i > start && l.trim() === '// #endregion readme');
  const region = lines.slice(start + 1, end);
  const indent = Math.min(...region.filter((l) => l.trim()).map((l) => /^ */.exec(l)![0].length));
  return `${region.map((l) => l.slice(indent)).join('\n')}\n`;
}

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env: Record<string, string>;
  /** For an example that starts a server: called once with its origin, then the process is stopped. */
  serve?: (origin: string) => Promise<void>;
  /** Hang guard: a run still going after this is killed (and the test fails on its signal). */
  timeoutMs?: number;
}

/** Runs one example as `node` runs it for a reader (tsx, the packages' sources), with the preload. */
export function runExample(file: string, options: RunOptions): Promise<Run> {
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', '--import', './test/support/readme-child.ts', file],
    { cwd: root, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  let served: Promise<void> | null = null;
  let serveError: unknown = null;
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
    const port = new RegExp(`${LISTENING}(\\d+)`).exec(stderr)?.[1];
    if (port && options.serve && !served) {
      served = options
        .serve(`http://127.0.0.1:${port}`)
        .catch((error: unknown) => {
          serveError = error;
        })
        .finally(() => child.kill('SIGTERM'));
    }
  });
  const guard = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 90_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', async (code, signal) => {
      clearTimeout(guard);
      await served;
      if (serveError) reject(serveError);
      else resolve({ code, signal, stdout, stderr });
    });
  });
}
