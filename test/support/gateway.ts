import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

/** How a test starts the main job: exactly as the README says, or the node command the script runs. */
export type Launch = 'pnpm' | 'node';

export const NODE_ARGS = ['--conditions=source', '--import', 'tsx', 'examples/gateway/src/main.ts'];

export interface Step {
  n: number;
  title: string;
  commands: string[];
}

export interface Gateway {
  banner: string;
  url: string;
  demo: { id: number; key: string };
  admin: { id: number; key: string };
  steps: Step[];
  /** The step whose title starts with these words. */
  step(words: string): Step;
  stderr(): string;
  /**
   * SIGINT to the process group, as Ctrl-C sends it; resolves once the gateway's own process (the
   * pid in gateway.json, or the child) is gone, with the child's exit code or signal.
   */
  stop(gatewayPid?: number): Promise<number | string | null>;
}

/** The environment of a run: the given variables, none of the switches inherited from the test's. */
export function gatewayEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of [
    'DATABASE_URL',
    'REDIS_URL',
    'AUTH0_DOMAIN',
    'AUTH0_AUDIENCE',
    'CLERK_SECRET_KEY',
    'CLERK_MACHINE_SECRET_KEY',
    'OIDC_ISSUER',
    'OIDC_AUDIENCE',
    'AGENTKEY_TABLE',
    'AGENTKEY_DATA',
    'AGENTKEY_SECRET_KEYS',
  ]) {
    delete env[name];
  }
  return { ...env, ...extra };
}

export function spawnGateway(launch: Launch, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const [command, argv] =
    launch === 'pnpm'
      ? ['npx', ['-y', 'pnpm@10', 'start', '--', ...args]]
      : [process.execPath, [...NODE_ARGS, ...args]];
  // Its own process group: SIGINT reaches pnpm and the node under it, as Ctrl-C would.
  return spawn(command as string, argv as string[], {
    cwd: root,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Everything a child prints, as it comes. */
function capture(child: ChildProcess) {
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return { out: () => out, err: () => err };
}

/** Starts the gateway and waits for its banner's last line. */
export async function startGateway(launch: Launch, args: string[], env = gatewayEnv()): Promise<Gateway> {
  const child = spawnGateway(launch, args, env);
  const output = capture(child);
  const exited = once(child, 'exit');
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (output.out().includes('Stop with Ctrl-C')) resolve();
    };
    child.stdout?.on('data', check);
    exited.then(([code]) =>
      reject(new Error(`the gateway exited (${code}) before its banner:\n${output.out()}\n${output.err()}`)),
    );
  });
  const out = output.out();
  const banner = out.slice(out.indexOf('agentkey gateway listening on'));
  const key = (label: string) => {
    const m = new RegExp(`${label} key +#(\\d+): (ak_\\w+)`).exec(banner);
    if (!m) throw new Error(`no ${label} key in the banner:\n${banner}`);
    return { id: Number(m[1]), key: m[2]! };
  };
  const steps = [...banner.matchAll(/^(\d+)\. (.*)\n((?: {2}\S.*\n)+)/gm)].map((m) => ({
    n: Number(m[1]),
    title: m[2]!,
    commands: m[3]!
      .split('\n')
      .filter(Boolean)
      .map((l) => l.slice(2)),
  }));
  return {
    banner,
    url: /listening on (\S+)/.exec(banner)![1]!,
    demo: key('demo'),
    admin: key('admin'),
    steps,
    step(words) {
      const found = steps.find((s) => s.title.startsWith(words));
      if (!found) throw new Error(`no step "${words}…" in the banner:\n${banner}`);
      return found;
    },
    stderr: output.err,
    async stop(gatewayPid) {
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGINT');
      const [code, signal] = await exited;
      for (let i = 0; gatewayPid && alive(gatewayPid) && i < 400; i++) {
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      return (code as number | null) ?? (signal as string | null);
    },
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs a step's commands in one bash, as a reader pasting them would; returns what it printed. */
export async function runStep(step: Step): Promise<string> {
  const { stdout } = await run('bash', ['-c', step.commands.join('\n')], { cwd: root, timeout: 60_000 });
  return stdout;
}

/** The JSON objects a step printed, one per line that is one. */
export function jsonLines(output: string): Array<Record<string, unknown>> {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A start that must fail: its exit code and what it printed. */
export async function failedStart(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawnGateway('node', args, env);
  const output = capture(child);
  const [code] = await once(child, 'exit');
  return { code: code as number | null, stdout: output.out(), stderr: output.err() };
}
