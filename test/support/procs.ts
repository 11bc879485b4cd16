import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const WORKER = fileURLToPath(new URL('./procs-worker.ts', import.meta.url));

/** How one app process (procs-worker.ts) builds its store. */
export interface WorkerConfig {
  url: string;
  table: string;
  timeoutMs: number;
  poolMax?: number;
  descriptorTtlMs?: number;
  /** `redisChanges` on this Redis (a private server or the shared one with a unique prefix). */
  redis?: { url: string; prefix: string };
  /** `redisCounter` in front of PostgreSQL, on this Redis, its calls bounded by `timeoutMs`. */
  counter?: { url: string; prefix: string; timeoutMs: number; relaySecret?: string };
  /** A gate with an OIDC verifier of this issuer, its answers cached for `cacheTtlMs`. */
  oidc?: { issuer: string; jwksUri: string; audience: string; cacheTtlMs: number };
}

export type Command =
  | { op: 'charge'; key: string; cents: number; scope?: string; idempotencyKey?: string }
  | { op: 'hold'; key: string; cents: number; idempotencyKey?: string }
  | { op: 'settle'; holdId: string; cents: number }
  | { op: 'release'; holdId: string }
  | { op: 'gate'; token: string; scope?: string }
  /**
   * Calls the key (or, with `token`, the gate) again and again (costing 0.01 ¢ each) until the
   * answer is refused (`refused`) or reports exactly `scopes`; answers when that call started.
   */
  | { op: 'watch'; key?: string; token?: string; scope?: string; until: 'refused' | { scopes: string[] } }
  | { op: 'stats' }
  | { op: 'drain' };

/** A worker's answer to charge, hold, settle, release or gate. */
export interface Answer {
  ok: boolean;
  code: string | null;
  chargedCents: number;
  replayed?: boolean;
  holdId?: string | null;
  scopes?: readonly string[] | null;
}

/** One separate Node process with its own AgentKey and pg pool. */
export interface Worker {
  readonly name: string;
  readonly pid: number;
  /** Resolves with the worker's answer; rejects when the worker dies first (never acknowledged). */
  call(command: Command): Promise<Answer>;
  /** `relayServed`: calls it charged for other processes as a hot key's leader (the counter's relay). */
  stats(): Promise<{ changesSeen: number; pid: number; relayServed: number }>;
  /** The Date.now() at which the first call that met `until` started (this machine's one clock). */
  watch(
    command: Omit<Extract<Command, { op: 'watch' }>, 'op'>,
  ): Promise<{ at: number; calls: number; code: string | null }>;
  /** Resolves what it left in doubt (answered `unavailable`), as an orderly shutdown would. */
  drain(): Promise<{ pending: number }>;
  /** kill -9: whatever it had in flight is never acknowledged. */
  kill9(): Promise<void>;
  /** Disconnects IPC; the worker ends its pool and exits. */
  close(): Promise<void>;
}

/** Forks a worker through tsx on the packages' sources, and waits until it says it is ready. */
export function spawnWorker(name: string, config: WorkerConfig): Promise<Worker> {
  const child: ChildProcess = fork(WORKER, [], {
    cwd: root,
    execArgv: ['--conditions=source', '--import', 'tsx'],
    env: { ...process.env, AGENTKEY_WORKER: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve: (v: never) => void; reject: (e: Error) => void }>();
  let next = 0;
  let dead: Error | null = null;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      dead = new Error(`worker ${name} exited (${code ?? signal}) before answering`);
      for (const p of pending.values()) p.reject(dead);
      pending.clear();
      resolve();
    });
  });
  const send = <T>(command: Command): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (dead || !child.connected) return reject(dead ?? new Error(`worker ${name} is disconnected`));
      const id = next++;
      pending.set(id, { resolve: resolve as (v: never) => void, reject });
      child.send({ id, command }, (error) => {
        if (error) {
          pending.delete(id);
          reject(error);
        }
      });
    });
  child.on('message', (message: { id?: number; answer?: never; error?: string; ready?: boolean }) => {
    if (message.id === undefined) return;
    const waiting = pending.get(message.id);
    if (!waiting) return;
    pending.delete(message.id);
    if (message.error !== undefined) waiting.reject(new Error(`worker ${name}: ${message.error}`));
    else waiting.resolve(message.answer as never);
  });
  const worker: Worker = {
    name,
    pid: child.pid!,
    call: (command) => send<Answer>(command),
    stats: () => send({ op: 'stats' }),
    watch: (command) => send({ op: 'watch', ...command }),
    drain: () => send({ op: 'drain' }),
    async kill9() {
      child.kill('SIGKILL');
      await exited;
    },
    async close() {
      if (child.connected) child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
  return new Promise<Worker>((resolve, reject) => {
    const failed = () => reject(new Error(`worker ${name} exited before it was ready`));
    child.once('exit', failed);
    child.once('error', reject);
    child.once('message', (message: { ready?: boolean }) => {
      child.off('exit', failed);
      if (message.ready) resolve(worker);
      else reject(new Error(`worker ${name} sent ${JSON.stringify(message)} before ready`));
    });
  });
}

/** Several workers on one config, started together. */
export function spawnWorkers(count: number, prefix: string, config: WorkerConfig): Promise<Worker[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => spawnWorker(`${prefix}-${i}`, config)));
}

/** Polls `check` until it holds (every 10 ms), or throws naming `what` after `ms`. */
export async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  ms = 20_000,
): Promise<void> {
  for (const end = Date.now() + ms; !(await check()); ) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
