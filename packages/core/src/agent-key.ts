import { ChargePath, chargeRequest, toAuthorizeResult, tokenExpired } from './authorize/charge.js';
import { DescriptorCache } from './authorize/descriptor-cache.js';
import { HoldPath } from './authorize/holds.js';
import { guarded, InDoubt } from './authorize/in-doubt.js';
import { BudgetAdmin } from './budget/admin.js';
import { costToMicros } from './budget/money.js';
import { type BudgetPeriod, firstReset } from './budget/period.js';
import type { ChargeRequest, Lookup, StoreContext } from './context.js';
import { checkTimeout, within } from './db/deadline.js';
import { consoleStoreReporter, type StoreReporter, watchPoolErrors } from './db/pool-errors.js';
import { preparedQuery, type Queryable, type Runner } from './db/queryable.js';
import { expiredCredential, malformedCredential, refuse } from './errors/auth-errors.js';
import { AgentKeyInputError } from './errors/errors.js';
import { inputRefusal } from './errors/input-refusal.js';
import { storeUnavailable } from './errors/store-unavailable.js';
import { Gate, type GateOptions } from './gate/gate.js';
import { GATE_STORE, type GateStore, type GateStoreOwner } from './gate/store-port.js';
import { parseDuration, parsePositiveDuration } from './input/duration.js';
import { actorOf, checkBatching, checkBudget, checkPeriod, isRowId, rowIdOf } from './input/options.js';
import {
  checkIdent,
  checkName,
  checkOptionalIdent,
  checkScopes,
  isIdent,
  isPlausibleKey,
} from './input/values.js';
import { toKeyInfo, tokenSide } from './keys/rows.js';
import { hashKey, newKey, unusableHash } from './keys/secret.js';
import { updateRow } from './keys/update.js';
import { trackRow, validateRow } from './legacy/validate.js';
import { adminStatements } from './sql/admin.js';
import { type TableNames, tableNames } from './sql/identifier.js';
import { migrationSql } from './sql/migrate.js';
import { type Statements, statements } from './sql/statements.js';
import type {
  AccountInfo,
  AgentKeyOptions,
  AuditOptions,
  AuthorizeOptions,
  AuthorizeResult,
  BudgetTarget,
  CreateKeyOptions,
  CreateKeyResult,
  Credential,
  EnsureSubjectOptions,
  KeyInfo,
  ReserveOptions,
  SettleOptions,
  SettleResult,
  SpendOptions,
  SpendReport,
  TrackUsageOptions,
  TrackUsageResult,
  UpdateOptions,
  ValidateFailure,
  ValidateResult,
} from './types.js';

const KEY_PREFIX = /^[A-Za-z0-9_-]{1,16}$/;

/**
 * The store: keys and external subjects in one table, each with scopes, budget and expiry.
 * A drop-in for agentkey 0.2.0's `AgentKey`, plus `authorize` and admin calls.
 */
export class AgentKey implements GateStoreOwner {
  readonly tableName: string;
  readonly keyPrefix: string;
  private readonly pool: Queryable;
  /** The request path (authorize, validate, trackUsage): prepared where the client allows. */
  private readonly hot: Runner;
  private readonly validScopes: ReadonlySet<string> | null;
  private readonly now: () => Date;
  private readonly tables: TableNames;
  private readonly sql: Statements;
  private readonly descriptors: DescriptorCache;
  private readonly charges: ChargePath;
  private readonly holds: HoldPath;
  private readonly budgets: BudgetAdmin;
  private readonly ctx: StoreContext;
  private readonly timeoutMs: number;
  private readonly inDoubt: InDoubt;

  constructor(options: AgentKeyOptions) {
    if (!options || typeof options.pool?.query !== 'function') {
      throw new AgentKeyInputError('pool must have a query(text, params) method (a pg Pool)', 'pool');
    }
    this.timeoutMs = checkTimeout(options.timeoutMs);
    if (options.onError !== undefined && typeof options.onError !== 'function') {
      throw new AgentKeyInputError('onError must be a function (error, context)', 'onError');
    }
    const report: StoreReporter = options.onError ?? consoleStoreReporter;
    // A pg Pool emits `error` when the server drops an idle connection; unheard, it kills the process.
    watchPoolErrors(options.pool, report);
    this.pool = options.pool;
    this.hot = preparedQuery(options.pool, options.preparedStatements);
    this.tables = tableNames(options.tableName ?? 'sdk_api_keys');
    this.tableName = this.tables.id;
    this.keyPrefix = options.keyPrefix ?? 'ak_';
    if (!KEY_PREFIX.test(this.keyPrefix)) {
      throw new AgentKeyInputError(
        'keyPrefix must be 1-16 characters of letters, digits, _ or -',
        'keyPrefix',
      );
    }
    this.validScopes = options.validScopes
      ? new Set(checkScopes(options.validScopes, null, 'validScopes'))
      : null;
    this.now = options.now ?? (() => new Date());
    const ledger = options.ledger ?? true;
    // Row-lock waits are bounded on the server by the same deadline (sql/requests.ts lockBound).
    this.sql = statements(this.tables, ledger, this.timeoutMs);
    const ttl = options.descriptorTtlMs ?? 1000;
    if (!Number.isFinite(ttl) || ttl < 0 || ttl > 1000) {
      throw new AgentKeyInputError('descriptorTtlMs must be between 0 and 1000', 'descriptorTtlMs');
    }
    this.descriptors = new DescriptorCache(ttl);
    this.inDoubt = new InDoubt({
      hot: this.hot,
      voidRequest: this.sql.voidRequest,
      pruneRequests: this.sql.pruneRequests,
      ledger,
      timeoutMs: this.timeoutMs,
      now: this.now,
      report,
      prune: (text, params) => this.pool.query(text, params),
    });
    const ctx: StoreContext = {
      pool: this.pool,
      hot: this.hot,
      tables: this.tables,
      sql: this.sql,
      admin: adminStatements(this.tables),
      ledger,
      now: this.now,
      descriptors: this.descriptors,
      timeoutMs: this.timeoutMs,
      inDoubt: this.inDoubt,
    };
    this.ctx = ctx;
    const batching = checkBatching(options.batching);
    this.holds = new HoldPath(ctx, batching);
    this.charges = new ChargePath(ctx, this.holds, batching);
    this.budgets = new BudgetAdmin(ctx);
  }

  /** Creates the keys table if absent and adds missing columns. Idempotent; safe to run concurrently. */
  async migrate(): Promise<void> {
    await this.pool.query(migrationSql(this.tables));
  }

  async create(options: CreateKeyOptions): Promise<CreateKeyResult> {
    const row = this.rowValues(options, checkIdent(options?.accountId, 'accountId'));
    const poolParentId = await this.poolRoot(options.poolParentId, row.accountId);
    const { key, hash, start } = newKey(this.keyPrefix);
    const result = await this.pool.query(this.sql.insert, [
      row.accountId,
      row.userId,
      hash,
      start,
      row.name,
      row.scopes,
      row.budgetCents,
      row.budgetPeriod,
      row.resetAt,
      row.expiresAt,
      row.delegatedBy,
      null,
      poolParentId,
      this.now(),
      row.delegatedBy,
    ]);
    return {
      key,
      id: Number(result.rows[0].id),
      scopes: row.scopes,
      budgetCents: row.budgetCents,
      budgetPeriod: row.budgetPeriod,
      expiresAt: row.expiresAt?.toISOString() ?? null,
    };
  }

  /**
   * A pooled child draws on its parent's root pool: pools never nest, so locks stay two deep. It
   * stays in the parent's account, so the pool's spend always meets that account's ceiling.
   */
  private async poolRoot(parentId: unknown, accountId: string): Promise<number | null> {
    if (parentId === undefined || parentId === null) return null;
    if (!isRowId(parentId)) throw new AgentKeyInputError('poolParentId must be a key id', 'poolParentId');
    const found = await this.pool.query(
      `SELECT COALESCE(pool_parent_id, id) AS root, revoked_at IS NOT NULL AS revoked, account_id
      FROM ${this.tables.keys} WHERE id = $1`,
      [parentId],
    );
    const parent = found.rows[0];
    if (!parent || parent.revoked)
      throw new AgentKeyInputError('poolParentId: no live key with that id', 'poolParentId');
    if (parent.account_id !== accountId) {
      throw new AgentKeyInputError("accountId: a pooled child must be in its parent's account", 'accountId');
    }
    return Number(parent.root);
  }

  /** Anchors a budget row to an external identity on first sight. Never changes an existing row. */
  async ensureSubject(subject: string, options: EnsureSubjectOptions = {}): Promise<void> {
    await this.provisionSubject(subject, options);
  }

  /** As `ensureSubject`, telling whether this call created the row. */
  private async provisionSubject(subject: string, options: EnsureSubjectOptions = {}): Promise<boolean> {
    const checked = checkIdent(subject, 'subject');
    const row = this.rowValues(options, checkIdent(options.accountId ?? checked, 'accountId'));
    // The gate provisions on the request path: bounded like every request-path call.
    const result = await this.bounded(
      this.pool.query(this.sql.insertSubject, [
        row.accountId,
        row.userId,
        unusableHash(),
        'external',
        row.name,
        row.scopes,
        row.budgetCents,
        row.budgetPeriod,
        row.resetAt,
        row.expiresAt,
        row.delegatedBy,
        checked,
        null,
        this.now(),
        row.delegatedBy,
      ]),
    );
    return result.rows.length > 0;
  }

  /** As in 0.2.0, a store failure rejects; past `timeoutMs` it rejects with AgentKeyTimeoutError. */
  validate(rawKey: string): Promise<ValidateResult | ValidateFailure> {
    if (!isPlausibleKey(rawKey)) return Promise.resolve({ valid: false, reason: 'invalid' });
    return this.bounded(validateRow(this.ctx, { by: 'key_hash', value: hashKey(rawKey) }));
  }

  validateBySubject(subject: string): Promise<ValidateResult | ValidateFailure> {
    if (!isIdent(subject)) return Promise.resolve({ valid: false, reason: 'invalid' });
    return this.bounded(validateRow(this.ctx, { by: 'external_subject', value: subject }));
  }

  /**
   * As in 0.2.0, a store failure rejects; past `timeoutMs` it rejects with AgentKeyTimeoutError,
   * and a charge it may have committed is voided (in-doubt.ts).
   */
  trackUsage(rawKey: string, options: TrackUsageOptions): Promise<TrackUsageResult> {
    const lookup = isPlausibleKey(rawKey) ? { by: 'key_hash' as const, value: hashKey(rawKey) } : null;
    return trackRow(this.ctx, this.charges, lookup, options?.costCents, options?.idempotencyKey);
  }

  trackUsageBySubject(subject: string, options: TrackUsageOptions): Promise<TrackUsageResult> {
    const lookup = isIdent(subject) ? { by: 'external_subject' as const, value: subject } : null;
    return trackRow(this.ctx, this.charges, lookup, options?.costCents, options?.idempotencyKey);
  }

  /**
   * Resolves now, in the background resolver's way, the calls this process answered `unavailable`
   * whose statement may have committed (each is voided, or tombstoned so it never commits);
   * returns how many are still in doubt (the database may still be down). The resolver runs by
   * itself; this is for tests and orderly shutdowns.
   */
  resolveInDoubt(): Promise<number> {
    return this.inDoubt.drain();
  }

  private bounded<T>(work: Promise<T>): Promise<T> {
    return within(work, Date.now() + this.timeoutMs, this.timeoutMs);
  }

  hasScope(result: { scopes: readonly string[] | null }, scope: string): boolean {
    if (result.scopes === null) return true;
    return result.scopes.includes(scope) || result.scopes.includes('admin');
  }

  /** Revokes a live key; with `accountId`, only when it belongs to that account. */
  async revoke(
    keyIdIn: number | string,
    accountId?: string | number | null,
    audit: AuditOptions = {},
  ): Promise<boolean> {
    const keyId = rowIdOf(keyIdIn);
    if (keyId === null) return false;
    const account = accountId === undefined || accountId === null ? null : checkIdent(accountId, 'accountId');
    const result = await this.pool.query(this.sql.revoke('id'), [keyId, this.now(), account, actorOf(audit)]);
    this.descriptors.clear();
    return result.rows.length > 0;
  }

  async revokeSubject(subject: string, audit: AuditOptions = {}): Promise<boolean> {
    const checked = checkIdent(subject, 'subject');
    const result = await this.pool.query(this.sql.revoke('external_subject'), [
      checked,
      this.now(),
      null,
      actorOf(audit),
    ]);
    this.descriptors.clear();
    return result.rows.length > 0;
  }

  async getKey(keyIdIn: number | string): Promise<KeyInfo | null> {
    const keyId = rowIdOf(keyIdIn);
    if (keyId === null) return null;
    const result = await this.pool.query(this.sql.read('id'), [keyId, this.now()]);
    return result.rows[0] ? toKeyInfo(result.rows[0]) : null;
  }

  async getSubject(subject: string): Promise<KeyInfo | null> {
    const checked = checkIdent(subject, 'subject');
    const result = await this.pool.query(this.sql.read('external_subject'), [checked, this.now()]);
    return result.rows[0] ? toKeyInfo(result.rows[0]) : null;
  }

  async listKeys(accountId: string | number): Promise<KeyInfo[]> {
    const account = checkIdent(accountId, 'accountId');
    const result = await this.pool.query(this.sql.listByAccount, [account, this.now()]);
    return result.rows.map(toKeyInfo);
  }

  update(
    keyIdIn: number | string,
    changes: UpdateOptions,
    audit: AuditOptions = {},
  ): Promise<KeyInfo | null> {
    const keyId = rowIdOf(keyIdIn);
    if (keyId === null) return Promise.resolve(null);
    return updateRow(this.ctx, this.validScopes, { by: 'id', value: keyId }, changes, audit);
  }

  updateSubject(subject: string, changes: UpdateOptions, audit: AuditOptions = {}): Promise<KeyInfo | null> {
    return updateRow(
      this.ctx,
      this.validScopes,
      { by: 'external_subject', value: checkIdent(subject, 'subject') },
      changes,
      audit,
    );
  }

  /**
   * Checks revocation, expiry, scope and budget and charges `costCents` (or reserves `holdCents`),
   * atomically, in one round trip. Never throws for expected outcomes: a store failure is
   * `unavailable` (fail closed). Bad arguments throw `AgentKeyInputError`.
   */
  async authorize(credential: Credential, options: AuthorizeOptions = {}): Promise<AuthorizeResult> {
    const lookup = this.lookupOf(credential);
    if (!lookup) return refuse(malformedCredential());
    options = this.tokenSided(options);
    const deadlineAt = Date.now() + this.timeoutMs;
    const request = chargeRequest('authorize', options, options.holdCents, options.holdTtl, deadlineAt);
    try {
      const now = this.now();
      if (tokenExpired(request, now)) return refuse(expiredCredential());
      const row = await this.charged(lookup, now, request);
      return toAuthorizeResult(row, now, request, options);
    } catch (cause) {
      return refuse(storeUnavailable(cause, this.tables.id));
    }
  }

  /**
   * Reserves up to `maxCents` for a call whose cost is known only afterwards (a streamed LLM call).
   * The hold counts against every cap at once; settle or release it, or it stops counting after `ttl`.
   */
  async reserve(credential: Credential, options: ReserveOptions): Promise<AuthorizeResult> {
    const lookup = this.lookupOf(credential);
    if (!lookup) return refuse(malformedCredential());
    if (!options || typeof options !== 'object')
      throw new AgentKeyInputError('options must be an object', 'options');
    if (!(typeof options.maxCents === 'number' && options.maxCents > 0)) {
      throw new AgentKeyInputError('maxCents must be a positive number of cents', 'maxCents');
    }
    const { maxCents, ttl, ...rest } = this.tokenSided(options);
    const deadlineAt = Date.now() + this.timeoutMs;
    const request = chargeRequest('reserve', { ...rest, costCents: 0 }, maxCents, ttl, deadlineAt);
    try {
      const now = this.now();
      if (tokenExpired(request, now)) return refuse(expiredCredential());
      return toAuthorizeResult(await this.charged(lookup, now, request), now, request, rest);
    } catch (cause) {
      return refuse(storeUnavailable(cause, this.tables.id));
    }
  }

  /** A charge or hold under its deadline; one that fails or times out is resolved later (in-doubt.ts). */
  private charged(lookup: Lookup, now: Date, request: ChargeRequest) {
    this.inDoubt.startPruning();
    return guarded(
      this.inDoubt,
      request.rid,
      request.deadlineAt,
      this.timeoutMs,
      () => this.charges.charge(lookup, now, request),
      (row) => row?.outcome === 'ok',
    );
  }

  /**
   * Charges a hold's actual cost and frees the rest. A cost above the hold takes only what every
   * cap still allows and reports the shortfall: never silently free, never past a cap.
   */
  async settle(holdId: string | number, options: SettleOptions): Promise<SettleResult> {
    if (!options || typeof options !== 'object')
      throw new AgentKeyInputError('options must be an object', 'options');
    const cost = costToMicros(options.costCents);
    if (!cost.ok) throw new AgentKeyInputError(`costCents: ${cost.reason}`, 'costCents');
    const deadlineAt = Date.now() + this.timeoutMs;
    return this.holds.close(holdId, cost.micros, true, options.idempotencyKey, options.metadata, deadlineAt);
  }

  /** Frees a hold entirely (the call failed or the client went away). */
  async release(holdId: string | number, options: { idempotencyKey?: string } = {}): Promise<SettleResult> {
    return this.holds.close(holdId, 0, false, options.idempotencyKey, undefined, Date.now() + this.timeoutMs);
  }

  /**
   * Sets (or with `budgetCents: null` removes) a ceiling shared by every key and subject of an
   * account. Every later charge or hold must fit both its own cap and the account's, atomically.
   */
  setAccountBudget(
    accountId: string | number,
    options: { budgetCents: number | null; budgetPeriod?: BudgetPeriod | null },
    audit: AuditOptions = {},
  ): Promise<AccountInfo> {
    return this.budgets.setAccountBudget(accountId, options, audit);
  }

  getAccount(accountId: string | number): Promise<AccountInfo | null> {
    return this.budgets.getAccount(accountId);
  }

  /**
   * Mints a short-lived child of `parentKey` on the parent's budget pool for the duration of `fn`,
   * and revokes it when `fn` settles, even when it throws. The child can do no more than the
   * parent: its scopes must be the parent's (or fewer) and it expires no later.
   */
  async withChildKey<T>(
    parentKey: string,
    options: { scopes?: string[] | null; budgetCents?: number | null; expiresIn?: string; name?: string },
    fn: (child: CreateKeyResult) => Promise<T> | T,
  ): Promise<T> {
    const expiresIn = options?.expiresIn ?? '1h';
    parsePositiveDuration(expiresIn);
    const parent = await this.validate(parentKey);
    if (!parent.valid)
      throw new AgentKeyInputError(`parent key is not usable: ${parent.reason}`, 'parentKey');
    const unlimited = parent.scopes === null || parent.scopes.includes('admin');
    const scopes = options.scopes ?? parent.scopes;
    if (!unlimited && (scopes === null || scopes.some((s) => !parent.scopes!.includes(s)))) {
      throw new AgentKeyInputError('scopes: a child may not have scopes its parent lacks', 'scopes');
    }
    const child = await this.create({
      accountId: parent.accountId,
      userId: parent.userId,
      scopes,
      budgetCents: options.budgetCents ?? null,
      expiresIn,
      delegatedBy: parent.userId ?? parent.accountId,
      name: options.name ?? 'child',
      poolParentId: parent.id,
    });
    if (parent.expiresAt && child.expiresAt && child.expiresAt > parent.expiresAt) {
      await this.update(child.id, { expiresAt: new Date(parent.expiresAt) });
    }
    try {
      return await fn(child);
    } finally {
      await this.revoke(child.id, null, { actor: parent.userId ?? parent.accountId });
    }
  }

  /** Spend (charges and settles, net of resets) of a key, subject or account between two times. */
  spend(target: BudgetTarget, options: SpendOptions): Promise<SpendReport> {
    return this.budgets.spend(target, options);
  }

  /** Raises a key's, subject's or account's cap by `cents`. */
  topUp(target: BudgetTarget, cents: number, audit: AuditOptions = {}): Promise<boolean> {
    return this.budgets.topUp(target, cents, audit);
  }

  /** Sets a key's, subject's or account's cap and period. */
  async setBudget(
    target: BudgetTarget,
    options: { budgetCents: number | null; budgetPeriod?: BudgetPeriod | null },
    audit: AuditOptions = {},
  ): Promise<boolean> {
    if ('accountId' in target)
      return (await this.setAccountBudget(target.accountId, options, audit)) !== null;
    const id = await this.budgets.rowId(target);
    return (
      (await this.update(
        id ?? 0,
        {
          budgetCents: options.budgetCents,
          ...(options.budgetPeriod !== undefined ? { budgetPeriod: options.budgetPeriod } : {}),
        },
        audit,
      )) !== null
    );
  }

  /** Zeroes the current period's spend; the ledger gets the opposite amount, so its sums still match. */
  resetBudget(target: BudgetTarget, audit: AuditOptions = {}): Promise<boolean> {
    return this.budgets.resetBudget(target, audit);
  }

  private lookupOf(credential: Credential): Lookup | null {
    if (typeof credential === 'string' || (credential && 'key' in credential)) {
      const key = typeof credential === 'string' ? credential : credential.key;
      return isPlausibleKey(key) ? { by: 'key_hash', value: hashKey(key) } : null;
    }
    if (credential && 'subject' in credential) {
      return isIdent(credential.subject) ? { by: 'external_subject', value: credential.subject } : null;
    }
    return null;
  }

  /** The request with only the token scopes that may count (rows.ts `tokenSide`). */
  private tokenSided<T extends { tokenScopes?: readonly string[] | null }>(options: T): T {
    if (!Array.isArray(options?.tokenScopes)) return options;
    return { ...options, tokenScopes: tokenSide(options.tokenScopes, this.validScopes) };
  }

  /** A gate for native keys and the given verifiers; build it once and reuse it. */
  gate(options: GateOptions = {}): Gate {
    return new Gate(this, options);
  }

  /** @internal The store as the Gate sees it (gate/store-port.ts): not for applications. */
  get [GATE_STORE](): GateStore {
    return {
      keyPrefix: this.keyPrefix,
      authorize: (credential, options) => this.authorize(credential, options),
      subjectOptionsRefusal: (options) => inputRefusal(() => this.rowValues(options, 'check')),
      provision: (subject, options) =>
        this.provisionSubject(subject, options).then(
          (created) => ({ ok: true, created }),
          (cause) => ({ ok: false, error: storeUnavailable(cause, this.tables.id) }),
        ),
    };
  }

  private rowValues(options: EnsureSubjectOptions, accountId: string) {
    if (!options || typeof options !== 'object')
      throw new AgentKeyInputError('options must be an object', 'options');
    const now = this.now();
    const budgetPeriod = checkPeriod(options.budgetPeriod);
    return {
      accountId,
      userId: checkOptionalIdent(options.userId, 'userId'),
      delegatedBy: checkOptionalIdent(options.delegatedBy, 'delegatedBy'),
      name: checkName(options.name),
      scopes: checkScopes(options.scopes, this.validScopes),
      budgetCents: checkBudget(options.budgetCents),
      budgetPeriod,
      resetAt: budgetPeriod ? firstReset(budgetPeriod, now) : null,
      expiresAt:
        options.expiresIn === null || options.expiresIn === undefined
          ? null
          : new Date(now.getTime() + parseDuration(options.expiresIn)),
    };
  }
}
