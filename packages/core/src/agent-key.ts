import { RequestCalls } from './authorize/calls.js';
import { hitRateWindow, type RateWindowDecision } from './authorize/rate-window.js';
import { BudgetAdmin } from './budget/admin.js';
import type { BudgetPeriod } from './budget/period.js';
import { type StoreContext, storeContext } from './context.js';
import type { CounterTarget } from './counter/port.js';
import { rowTarget } from './counter/target.js';
import { inputRefusal } from './errors/input-refusal.js';
import { storeUnavailable } from './errors/store-unavailable.js';
import { Gate, type GateOptions } from './gate/gate.js';
import { GATE_STORE, type GateStore, type GateStoreOwner } from './gate/store-port.js';
import { checkBatching } from './input/options.js';
import { type ChildKeyOptions, withChildKey } from './keys/child.js';
import { checkSubjectOptions, createKey, provisionSubject } from './keys/create.js';
import { keyLookup, subjectLookup } from './keys/lookup.js';
import { listKeys, listSubjects, readKey, readSubject } from './keys/read.js';
import { revokeKey, revokeSubject } from './keys/revoke.js';
import { hasScope } from './keys/rows.js';
import { updateKey, updateSubject } from './keys/update.js';
import { listHolds, readLedger } from './ledger/read.js';
import { trackRow, validateLookup } from './legacy/validate.js';
import { buildIndexesConcurrently, migrateConcurrently } from './sql/concurrent-indexes.js';
import { migrate } from './sql/migrate.js';
import { tallied } from './tally/refusal-tally.js';
import type * as T from './types.js';

type BudgetOptions = { budgetCents: number | null; budgetPeriod?: BudgetPeriod | null };
type Audit = T.AuditOptions;
const accountOf = (info: T.AccountInfo): CounterTarget => ({ accountId: info.accountId });

/**
 * The store: keys and external subjects in one table, each with scopes, budget and expiry.
 * A drop-in for agentkey 0.2.0's `AgentKey`, plus `authorize` and admin calls. The calls live in
 * keys/, authorize/, budget/ and legacy/; this class checks the options and wires them.
 */
export class AgentKey implements GateStoreOwner {
  readonly tableName: string;
  readonly keyPrefix: string;
  private readonly ctx: StoreContext;
  private readonly calls: RequestCalls;
  private readonly budgets: BudgetAdmin;

  constructor(options: T.AgentKeyOptions) {
    this.ctx = storeContext(options);
    this.tableName = this.ctx.tables.id;
    this.keyPrefix = this.ctx.keyPrefix;
    this.calls = new RequestCalls(this.ctx, checkBatching(options.batching, this.ctx.counter !== null));
    this.budgets = new BudgetAdmin(this.ctx);
  }

  /** The scopes rows may carry (the `validScopes` option), or null when any well-formed scope may be used. */
  get validScopes(): readonly string[] | null {
    return this.ctx.validScopes ? [...this.ctx.validScopes] : null;
  }

  /** Creates or upgrades the tables; idempotent, safe to run concurrently. `{ concurrently: true }`: see MigrateOptions. */
  async migrate(options?: T.MigrateOptions): Promise<void> {
    if (migrateConcurrently(options)) await buildIndexesConcurrently(this.ctx.pool, this.ctx.tables);
    await migrate(this.ctx.pool, this.ctx.tables);
  }

  /** Mints a key (its secret is in the result only, never stored); `audit.actor`: the ledger's maker. */
  create(options: T.CreateKeyOptions, audit: Audit = {}): Promise<T.CreateKeyResult> {
    return createKey(this.ctx, options, null, audit);
  }

  /** Anchors a budget row to an external identity on first sight. Never changes an existing row. */
  async ensureSubject(subject: string, options: T.EnsureSubjectOptions = {}): Promise<void> {
    await provisionSubject(this.ctx, subject, options);
  }

  /** As in 0.2.0, a store failure rejects; past `timeoutMs` it rejects with AgentKeyTimeoutError. */
  validate(rawKey: string): Promise<T.ValidateResult | T.ValidateFailure> {
    return validateLookup(this.ctx, keyLookup(rawKey), this.calls.peeks);
  }

  validateBySubject(subject: string): Promise<T.ValidateResult | T.ValidateFailure> {
    return validateLookup(this.ctx, subjectLookup(subject), this.calls.peeks);
  }

  /**
   * As in 0.2.0, a store failure rejects; past `timeoutMs` it rejects with AgentKeyTimeoutError,
   * and a charge it may have committed is voided (in-doubt.ts).
   */
  trackUsage(rawKey: string, options: T.TrackUsageOptions): Promise<T.TrackUsageResult> {
    return trackRow(this.ctx, this.calls.charges, keyLookup(rawKey), options);
  }

  trackUsageBySubject(subject: string, options: T.TrackUsageOptions): Promise<T.TrackUsageResult> {
    return trackRow(this.ctx, this.calls.charges, subjectLookup(subject), options);
  }

  /**
   * Resolves now, in the background resolver's way, the calls this process answered `unavailable`
   * whose statement may have committed (each is voided, or tombstoned so it never commits);
   * returns how many are still in doubt (the database may still be down). The resolver runs by
   * itself; this is for tests and orderly shutdowns.
   */
  resolveInDoubt(): Promise<number> {
    return this.ctx.inDoubt.drain();
  }

  hasScope(result: { scopes: readonly string[] | null }, scope: string): boolean {
    return hasScope(result, scope);
  }

  /** Revokes a live key; with `accountId`, only when it belongs to that account. */
  revoke(keyId: number | string, accountId?: string | number | null, audit: Audit = {}): Promise<boolean> {
    return this.touched(revokeKey(this.ctx, keyId, accountId, audit));
  }

  revokeSubject(subject: string, audit: Audit = {}): Promise<boolean> {
    return this.touched(revokeSubject(this.ctx, subject, audit));
  }

  getKey(keyId: number | string): Promise<T.KeyInfo | null> {
    return readKey(this.ctx, keyId);
  }

  getSubject(subject: string): Promise<T.KeyInfo | null> {
    return readSubject(this.ctx, subject);
  }

  listKeys(accountId: string | number): Promise<T.KeyInfo[]> {
    return listKeys(this.ctx, accountId);
  }

  /** External subjects (of one account, or all), by id. */
  listSubjects(options: { accountId?: string | number | null; limit?: number } = {}): Promise<T.KeyInfo[]> {
    return listSubjects(this.ctx, options);
  }

  /** Holds still open and counting, of an account or a key, oldest first. */
  listHolds(options: T.ListHoldsOptions = {}): Promise<T.HoldInfo[]> {
    return listHolds(this.ctx, options);
  }

  /** Ledger entries after `afterId` (for a tail), or the newest ones; in id order. */
  ledger(options: T.LedgerOptions = {}): Promise<T.LedgerEntry[]> {
    return readLedger(this.ctx, options);
  }

  update(keyId: number | string, changes: T.UpdateOptions, audit: Audit = {}): Promise<T.KeyInfo | null> {
    return this.changed(updateKey(this.ctx, keyId, changes, audit), (info) =>
      rowTarget(info.accountId, info.id),
    );
  }

  updateSubject(subject: string, changes: T.UpdateOptions, audit: Audit = {}): Promise<T.KeyInfo | null> {
    return this.changed(updateSubject(this.ctx, subject, changes, audit), (info) =>
      rowTarget(info.accountId, info.id),
    );
  }

  /**
   * Checks revocation, expiry, scope and budget and charges `costCents` (or reserves `holdCents`),
   * atomically, in one round trip. Never throws for expected outcomes: a store failure is
   * `unavailable` (fail closed). Bad arguments throw `AgentKeyInputError`.
   */
  authorize(credential: T.Credential, options: T.AuthorizeOptions = {}): Promise<T.AuthorizeResult> {
    return tallied(this.ctx.tally, this.calls.authorize(credential, options));
  }

  /**
   * Reserves up to `maxCents` for a call whose cost is known only afterwards (a streamed LLM call).
   * The hold counts against every cap at once; settle or release it, or it stops counting after `ttl`.
   */
  reserve(credential: T.Credential, options: T.ReserveOptions): Promise<T.AuthorizeResult> {
    return tallied(this.ctx.tally, this.calls.reserve(credential, options));
  }

  /** Ends the relay and the counter's reports to onError, flushes the refusal tally (timeoutMs); never rejects. */
  async close(): Promise<void> {
    this.ctx.relay?.close?.();
    this.ctx.counter?.close();
    await this.ctx.tally?.close(this.ctx.timeoutMs);
  }

  /**
   * Charges a hold's actual cost and frees the rest. A cost above the hold takes only what every
   * cap still allows and reports the shortfall: never silently free, never past a cap.
   */
  settle(holdId: string | number, options: T.SettleOptions): Promise<T.SettleResult> {
    return this.calls.settle(holdId, options);
  }

  /** Frees a hold entirely (the call failed or the client went away). */
  release(holdId: string | number, options: { idempotencyKey?: string } = {}): Promise<T.SettleResult> {
    return this.calls.release(holdId, options);
  }

  /**
   * Sets (or with `budgetCents: null` removes) a ceiling shared by every key and subject of an
   * account. Every later charge or hold must fit both its own cap and the account's, atomically.
   */
  setAccountBudget(
    accountId: string | number,
    options: BudgetOptions,
    audit: Audit = {},
  ): Promise<T.AccountInfo> {
    return this.changed(this.budgets.setAccountBudget(accountId, options, audit), accountOf);
  }

  /**
   * Sets (or with null removes) a rate limit shared by every key and subject of an account: calls
   * and/or cents per window, counted across processes with each charge. A call past it is
   * refused `rate_limited` and charges nothing.
   */
  setAccountRateLimit(
    accountId: string | number,
    limit: T.RateLimit | null,
    audit: Audit = {},
  ): Promise<T.AccountInfo> {
    return this.changed(this.budgets.setAccountRateLimit(accountId, limit, audit), accountOf);
  }

  /**
   * A named limiter stored in PostgreSQL (the /signup limiter of @agentkey/express): counts one
   * call in `bucket` unless its window already admitted `requests`, across every process.
   */
  rateLimitHit(bucket: string, limit: { requests: number; windowSec?: number }): Promise<RateWindowDecision> {
    return hitRateWindow(this.ctx, bucket, limit);
  }

  getAccount(accountId: string | number): Promise<T.AccountInfo | null> {
    return this.budgets.getAccount(accountId);
  }

  /**
   * Mints a short-lived child of `parentKey` on the parent's budget pool for the duration of `fn`,
   * and revokes it when `fn` settles, even when it throws. The child can do no more than the
   * parent: its scopes must be the parent's (or fewer) and it expires no later.
   */
  withChildKey<R>(
    parentKey: string,
    options: ChildKeyOptions,
    fn: (child: T.CreateKeyResult) => Promise<R> | R,
  ): Promise<R> {
    return withChildKey(this.ctx, parentKey, options, fn);
  }

  /** Spend (charges and settles, net of resets) of a key, subject or account between two times. */
  spend(target: T.BudgetTarget, options: T.SpendOptions): Promise<T.SpendReport> {
    return this.budgets.spend(target, options);
  }

  /** Raises a key's, subject's or account's cap by `cents`. */
  topUp(target: T.BudgetTarget, cents: number, audit: Audit = {}): Promise<boolean> {
    return this.touched(this.budgets.topUp(target, cents, audit));
  }

  /** Sets a key's, subject's or account's cap and period. */
  setBudget(target: T.BudgetTarget, options: BudgetOptions, audit: Audit = {}): Promise<boolean> {
    return this.touched(this.budgets.setBudget(target, options, audit));
  }

  /** Zeroes the current period's spend; the ledger gets the opposite amount, so its sums still match. */
  resetBudget(target: T.BudgetTarget, audit: Audit = {}): Promise<boolean> {
    return this.touched(this.budgets.resetBudget(target, audit));
  }

  /** A gate for native keys and the given verifiers; build it once and reuse it. */
  gate(options: GateOptions = {}): Gate {
    return new Gate(this, options);
  }

  /** An admin change's result, once the counter (if any) no longer trusts the mirrors it touched. */
  private async changed<R>(work: Promise<R>, target: (result: NonNullable<R>) => CounterTarget): Promise<R> {
    const result = await work;
    if (this.ctx.counter && result) await this.ctx.counter.invalidate(target(result as NonNullable<R>));
    return result;
  }

  /**
   * As `changed`, for a change naming what it touched (the row's account) or null: every process's
   * mirrors of that account stop being trusted, not only this one's. True when something changed.
   */
  private async touched(work: Promise<CounterTarget | null>): Promise<boolean> {
    const target = await work;
    if (this.ctx.counter && target) await this.ctx.counter.invalidate(target);
    return target !== null;
  }

  /** @internal The store as the Gate sees it (gate/store-port.ts): not for applications. */
  get [GATE_STORE](): GateStore {
    const { ctx } = this;
    return {
      keyPrefix: this.keyPrefix,
      authorize: (credential, options) => this.calls.authorize(credential, options),
      refused: (code) => ctx.tally?.count(code),
      subjectOptionsRefusal: (options) => inputRefusal(() => checkSubjectOptions(ctx, options)),
      provision: (subject, options) =>
        provisionSubject(ctx, subject, options).then(
          (created) => ({ ok: true, created }),
          (cause) => ({ ok: false, error: storeUnavailable(cause, ctx.tables.id) }),
        ),
      onChange: (listener) => ctx.changes.onChange(listener),
    };
  }
}
