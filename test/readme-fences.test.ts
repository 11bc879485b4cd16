import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GROUPS } from '../packages/cli/src/commands/index.js';
import { OUTPUT_MARKER } from './support/readme-output.js';
import { type Fence, isTypeScript, READMES, readmeFences, root } from './support/readme-run.js';

/**
 * The README blocks that are not TypeScript (those are files test/readme.test.ts runs): each is a
 * command that exists, a picture, or an HTTP exchange — never code nobody runs.
 */
const json = (path: string) => JSON.parse(readFileSync(`${root}/${path}`, 'utf8'));
const scripts = new Set(['install', ...Object.keys(json('package.json').scripts)]);
const workspace = new Set(
  readdirSync(`${root}/packages`).map((dir) => json(`packages/${dir}/package.json`).name),
);

/** What `npm install` in a package's README may name: the workspace's packages, and that package's own. */
function installable(readme: string): Set<string> {
  const dir = /^packages\/([^/]+)\/README\.md$/.exec(readme)?.[1];
  if (!dir) return workspace;
  const manifest = json(`packages/${dir}/package.json`);
  return new Set([
    ...workspace,
    ...['dependencies', 'peerDependencies', 'devDependencies'].flatMap((k) => Object.keys(manifest[k] ?? {})),
  ]);
}

/** The `agentkey` command's groups (packages/cli), and the completion command it adds. */
const cliCommands = new Set([...GROUPS.map((g) => g.name), 'completion']);

/** Why a command of an sh block is not one this repository defines, or null when it is. */
function badCommand(command: string, readme: string): string | null {
  const cli = /^agentkey ([\w-]+)(?: |$)/.exec(command);
  if (cli) return cliCommands.has(cli[1]!) ? null : `the agentkey command has no "${cli[1]}"`;
  if (/^npm install -g @agentkey\/cli$/.test(command)) return null;
  // `-s` (silent): pnpm's banner and exit line kept out of the output.
  const pnpm = /^npx -y pnpm@10 (?:-s )?([\w:-]+)(?: |$)(.*)/.exec(command);
  if (pnpm && pnpm[1] === 'agentkey') return badCommand(`agentkey ${pnpm[2]}`, readme);
  if (pnpm) return scripts.has(pnpm[1]!) ? null : `no script "${pnpm[1]}" in package.json`;
  const npm = /^npm install ((?:[@\w./-]+ ?)+)$/.exec(command);
  if (npm) {
    const unknown = npm[1]!.split(' ').filter((p) => p && !installable(readme).has(p));
    return unknown.length ? `not a dependency here: ${unknown.join(', ')}` : null;
  }
  return 'neither `npx -y pnpm@10 <script>` nor `npm install <packages>`';
}

function problems(fence: Fence): string[] {
  switch (fence.lang) {
    case 'sh':
      return fence.text
        .split('\n')
        .map((line) => line.replace(/\s+#.*$/, '').trim())
        .filter(Boolean)
        .flatMap((line) => line.split('&&').map((c) => c.trim()))
        .map((c) => badCommand(c, fence.readme))
        .filter((why): why is string => why !== null);
    case 'mermaid':
      return /^(flowchart|graph|sequenceDiagram)\b/.test(fence.text)
        ? []
        : ['not a flowchart or sequence diagram'];
    case 'text':
      // What a command prints, shown as it prints: a test keeps it equal (test/support/readme-output.ts).
      return OUTPUT_MARKER.test(fence.above)
        ? []
        : ['a text block without an <!-- output: command --> marker'];
    case 'http':
      return /^HTTP\/1\.1 \d{3} .+\n(?:[\w-]+: .+\n)*$/.test(fence.text)
        ? []
        : ['not a status line and headers'];
    default:
      return [
        `a ${fence.lang || 'bare'} block: make it a ts block with an example file, or sh, mermaid, http`,
      ];
  }
}

const others = READMES.flatMap(readmeFences).filter((f) => !isTypeScript(f));

describe('README blocks that are not TypeScript', () => {
  it.each(others.map((f) => [`${f.readme}:${f.line} (${f.lang || 'bare'})`, f] as const))(
    '%s is a command that exists, a picture or an HTTP exchange',
    (_, fence) => {
      expect(problems(fence)).toEqual([]);
    },
  );

  it('a command this repository does not define, or code in a bare block, is refused', () => {
    expect(badCommand('npx -y pnpm@10 strat', 'README.md')).toMatch(/no script "strat"/);
    expect(badCommand('npm install @agentkey/nope', 'packages/core/README.md')).toMatch(/@agentkey\/nope/);
    expect(badCommand('node main.js', 'README.md')).toMatch(/neither/);
    expect(badCommand('agentkey kyes list', 'packages/cli/README.md')).toMatch(/no "kyes"/);
    expect(badCommand('npx -y pnpm@10 -s agentkey kyes list', 'README.md')).toMatch(/no "kyes"/);
    expect(badCommand('npx -y pnpm@10 -s strat', 'README.md')).toMatch(/no script "strat"/);
    expect(
      problems({ readme: 'README.md', line: 1, lang: '', above: '', text: 'const a = 1;\n' }),
    ).toHaveLength(1);
  });
});
