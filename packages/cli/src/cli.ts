import type { AgentKey, Queryable } from '@agentkey/core';
import type { Command } from 'commander';
import { createColors } from 'picocolors';
import { type OpenStore, openStore } from './connect/open.js';
import { type ConnectionOptions, resolveTarget, type Target } from './connect/target.js';
import { colourOn, type Io } from './io.js';

export type Colours = ReturnType<typeof createColors>;

/** The options every command takes (program.ts declares them). */
export interface GlobalOptions extends ConnectionOptions {
  json?: boolean;
}

/**
 * What a command gets: the run's output, its colours, and the store, opened on first use and
 * closed when the run ends (run.ts). Commands never reach the process directly.
 */
export class Cli {
  readonly colours: Colours;
  private opened: OpenStore | null = null;
  private target: Target | null = null;

  constructor(readonly io: Io) {
    this.colours = createColors(colourOn(io));
  }

  /** The global options as given to `command` (commander keeps them on the root). */
  globals(command: Command): GlobalOptions {
    return command.optsWithGlobals<GlobalOptions>();
  }

  /** The store for this run. `create`: a PGlite folder may be made (migrate). */
  async store(command: Command, create = false): Promise<AgentKey> {
    if (this.opened) return this.opened.ak;
    this.target = resolveTarget(this.globals(command), this.io, create);
    this.opened = await openStore(this.target, () => {
      // Idle-connection errors after the work is done: the command's own calls report theirs.
    });
    return this.opened.ak;
  }

  /** The connection the store runs on (opened by `store` when not yet). */
  async pool(command: Command): Promise<Queryable> {
    await this.store(command);
    return this.opened!.pool;
  }

  /** Names the database for messages, once a command asked for it. */
  get where(): string {
    return this.target?.label ?? 'the database';
  }

  get table(): string {
    return this.target?.table ?? 'sdk_api_keys';
  }

  line(text = ''): void {
    this.io.out(`${text}\n`);
  }

  /** Prints `value` as JSON with --json, else runs the human rendering. */
  print(command: Command, value: unknown, human: () => void): void {
    if (this.globals(command).json) this.line(JSON.stringify(value, null, 2));
    else human();
  }

  async close(): Promise<void> {
    const opened = this.opened;
    this.opened = null;
    if (opened) await opened.close();
  }
}
