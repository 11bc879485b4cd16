import type { Change } from '../changes/feed.js';
import type { AgentKeyInputError, AuthError } from '../errors/errors.js';
import type { AuthorizeOptions, AuthorizeResult, Credential, EnsureSubjectOptions } from '../types.js';

/** A first-sight row written (or found already there), or why the store could not answer. */
export type Provisioned = { ok: true; created: boolean } | { ok: false; error: AuthError };

/**
 * What the Gate needs of a store: the contract first, the store behind it. An AgentKey lends one
 * (under GATE_STORE), so the Gate never imports AgentKey and these calls stay off its public type.
 */
export interface GateStore {
  /** Credentials with this prefix are native keys, never handed to a verifier. */
  readonly keyPrefix: string;
  authorize(credential: Credential, options: AuthorizeOptions): Promise<AuthorizeResult>;
  /**
   * Counts one refusal of the gate's in the store's tally: its final answer, once per call (so
   * `authorize` above is the untallied one: a first sight's first `unknown` is no refusal).
   */
  refused?(code: string): void;
  /** What writing a subject row with these options would refuse, without touching the database. */
  subjectOptionsRefusal(options: EnsureSubjectOptions): AgentKeyInputError | null;
  /** Writes the subject's row unless it exists (options already checked); a store failure is a result. */
  provision(subject: string, options: EnsureSubjectOptions): Promise<Provisioned>;
  /** Every admin change this store makes or hears of (`null`: some may have been missed). */
  onChange?(listener: (change: Change | null) => void): () => void;
}

/** The key under which an AgentKey lends its GateStore. Not exported from the package. */
export const GATE_STORE: unique symbol = Symbol.for('agentkey.gateStore');

/**
 * What a Gate is built from: an AgentKey. The published types leave out the symbol member, so the
 * public ones keep an application's compiler refusing anything but a store.
 */
export interface GateStoreOwner {
  readonly tableName: string;
  readonly keyPrefix: string;
  /** @internal */
  readonly [GATE_STORE]: GateStore;
}
