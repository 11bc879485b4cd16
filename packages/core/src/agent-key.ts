import { costToMicros, MAX_BUDGET_CENTS, MICROS_PER_CENT } from './budget/money.js';
import { type BudgetPeriod, firstReset, PERIODS } from './budget/period.js';
import { preparedQuery, type Queryable, type Runner } from './db.js';
import { type Descriptor, DescriptorCache } from './descriptor-cache.js';
import { parseDuration, printable } from './duration.js';
import { AgentKeyInputError, type AuthError } from './errors.js';
import { checkIdent, checkName, checkOptionalIdent, checkScopes, isIdent, isPlausibleKey } from './input.js';
import { hashKey, newKey, unusableHash } from './key.js';
import {
  budgetOf,
  isExhausted,
  type KeyRow,
  toKeyInfo,
  toPrincipal,
  toValidateResult,
  usedWholeCents,
} from './rows.js';
import { type TableNames, tableNames } from './sql/identifier.js';
import { migrationSql } from './sql/migrate.js';
import { type Selector, type Statements, statements } from './sql/statements.js';
import type {
  AgentKeyOptions,
  AuthorizeOptions,
  AuthorizeResult,
  CreateKeyOptions,
  CreateKeyResult,
  Credential,
  EnsureSubjectOptions,
  KeyInfo,
  TrackUsageResult,
  UpdateOptions,
  ValidateFailure,
  ValidateResult,
} from './types.js';

const KEY_PREFIX = /^[A-Za-z0-9_-]{1,16}$/;
/** A charge whose statement saw the row fit but whose UPDATE lost a race is retried this often. */
const RACE_RETRIES = 3;

type Lookup = { by: Selector; value: string };

/**
 * The store: keys and external subjects in one table, each with scopes, budget and expiry.
 * A drop-in for agentkey 0.2.0's `AgentKey`, plus `authorize` and admin calls.
 */
export class AgentKey {
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

  constructor(options: AgentKeyOptions) {
    if (!options || typeof options.pool?.query !== 'function') {
      throw new AgentKeyInputError('pool must have a query(text, params) method (a pg Pool)', 'pool');
    }
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
    this.sql = statements(this.tables);
    const ttl = options.descriptorTtlMs ?? 1000;
    if (!Number.isFinite(ttl) || ttl < 0 || ttl > 1000) {
      throw new AgentKeyInputError('descriptorTtlMs must be between 0 and 1000', 'descriptorTtlMs');
    }
    this.descriptors = new DescriptorCache(ttl);
  }

  /** Creates the keys table if absent and adds missing columns. Idempotent; safe to run concurrently. */
  async migrate(): Promise<void> {
    await this.pool.query(migrationSql(this.tables));
  }

  async create(options: CreateKeyOptions): Promise<CreateKeyResult> {
    const row = this.rowValues(options, checkIdent(options?.accountId, 'accountId'));
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

  /** Anchors a budget row to an external identity on first sight. Never changes an existing row. */
  async ensureSubject(subject: string, options: EnsureSubjectOptions = {}): Promise<void> {
    await this.provisionSubject(subject, options);
  }

  /** As `ensureSubject`, telling whether this call created the row. */
  async provisionSubject(subject: string, options: EnsureSubjectOptions = {}): Promise<boolean> {
    const checked = checkIdent(subject, 'subject');
    const row = this.rowValues(options, checkIdent(options.accountId ?? checked, 'accountId'));
    const result = await this.pool.query(this.sql.insertSubject, [
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
    ]);
    return result.rows.length > 0;
  }

  validate(rawKey: string): Promise<ValidateResult | ValidateFailure> {
    if (!isPlausibleKey(rawKey)) return Promise.resolve({ valid: false, reason: 'invalid' });
    return this.validateRow({ by: 'key_hash', value: hashKey(rawKey) });
  }

  validateBySubject(subject: string): Promise<ValidateResult | ValidateFailure> {
    if (!isIdent(subject)) return Promise.resolve({ valid: false, reason: 'invalid' });
    return this.validateRow({ by: 'external_subject', value: subject });
  }

  trackUsage(rawKey: string, options: { costCents: number }): Promise<TrackUsageResult> {
    const lookup = isPlausibleKey(rawKey) ? { by: 'key_hash' as const, value: hashKey(rawKey) } : null;
    return this.trackRow(lookup, options?.costCents);
  }

  trackUsageBySubject(subject: string, options: { costCents: number }): Promise<TrackUsageResult> {
    const lookup = isIdent(subject) ? { by: 'external_subject' as const, value: subject } : null;
    return this.trackRow(lookup, options?.costCents);
  }

  hasScope(result: { scopes: readonly string[] | null }, scope: string): boolean {
    if (result.scopes === null) return true;
    return result.scopes.includes(scope) || result.scopes.includes('admin');
  }

  /** Revokes a live key; with `accountId`, only when it belongs to that account. */
  async revoke(keyId: number, accountId?: string | number): Promise<boolean> {
    if (!Number.isSafeInteger(keyId) || keyId <= 0 || keyId > 2_147_483_647) return false;
    const account = accountId === undefined || accountId === null ? null : checkIdent(accountId, 'accountId');
    const result = await this.pool.query(this.sql.revoke('id'), [keyId, this.now(), account]);
    this.descriptors.clear();
    return result.rows.length > 0;
  }

  async revokeSubject(subject: string): Promise<boolean> {
    const checked = checkIdent(subject, 'subject');
    const result = await this.pool.query(this.sql.revoke('external_subject'), [checked, this.now(), null]);
    this.descriptors.clear();
    return result.rows.length > 0;
  }

  async getKey(keyId: number): Promise<KeyInfo | null> {
    if (!Number.isSafeInteger(keyId) || keyId <= 0 || keyId > 2_147_483_647) return null;
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

  update(keyId: number, changes: UpdateOptions): Promise<KeyInfo | null> {
    if (!Number.isSafeInteger(keyId) || keyId <= 0 || keyId > 2_147_483_647) return Promise.resolve(null);
    return this.updateRow({ by: 'id', value: keyId }, changes);
  }

  updateSubject(subject: string, changes: UpdateOptions): Promise<KeyInfo | null> {
    return this.updateRow({ by: 'external_subject', value: checkIdent(subject, 'subject') }, changes);
  }

  /**
   * Checks revocation, expiry, scope and budget and charges `costCents`, atomically, in one
   * round trip when it passes. Never throws for expected outcomes: a store failure is
   * `unavailable` (fail closed).
   */
  async authorize(credential: Credential, options: AuthorizeOptions = {}): Promise<AuthorizeResult> {
    const lookup = this.lookupOf(credential);
    if (!lookup)
      return refuse({
        code: 'invalid_token',
        reason: 'malformed',
        description: 'The credential is malformed.',
      });
    if (options.scope !== undefined && (typeof options.scope !== 'string' || options.scope.length === 0)) {
      throw new AgentKeyInputError('scope must be a non-empty string', 'scope');
    }
    const cost = costToMicros(options.costCents ?? 0);
    if (!cost.ok) throw new AgentKeyInputError(`costCents: ${cost.reason}`, 'costCents');
    const scope = options.scope ?? null;
    const tokenGrants = scope === null || !options.tokenScopes || options.tokenScopes.includes(scope);

    try {
      for (let attempt = 0; ; attempt++) {
        const now = this.now();
        const row = await this.chargeRow(lookup, now, cost.micros, scope, tokenGrants);
        if (!row) {
          return refuse({ code: 'invalid_token', reason: 'unknown', description: 'Unknown credential.' });
        }
        const principal = toPrincipal(row, options.tokenScopes, options.tokenExpiresAt);
        if (row.passed) {
          return { ok: true, principal, budget: budgetOf(row), chargedCents: cost.micros / MICROS_PER_CENT };
        }
        const refusal = diagnose(row, now, scope, tokenGrants, cost.micros);
        // A free call that fits needed no write.
        if (!refusal && cost.micros === 0)
          return { ok: true, principal, budget: budgetOf(row), chargedCents: 0 };
        // The statement's snapshot said yes but the UPDATE's re-check said no: another writer won.
        if (refusal || attempt >= RACE_RETRIES) {
          return {
            ok: false,
            error: refusal ?? budgetRefusal(row, now),
            principal,
            budget: budgetOf(row),
          };
        }
      }
    } catch (cause) {
      return refuse({
        code: 'unavailable',
        description: 'The key store cannot answer.',
        retryAfterSec: 1,
        cause,
      });
    }
  }

  /**
   * One charge attempt. A positive cost first tries the lean UPDATE (one round trip when it
   * passes); a refusal, an elapsed period or a free call goes to the full statement, which resets
   * the period if due, charges if it now fits, and otherwise returns the row for diagnosis.
   */
  private async chargeRow(
    lookup: Lookup,
    now: Date,
    micros: number,
    scope: string | null,
    tokenGrants: boolean,
  ): Promise<KeyRow | undefined> {
    const params = [lookup.value, now.toISOString(), micros, scope, tokenGrants];
    const nowMs = now.getTime();
    if (micros > 0) {
      const descriptor = this.descriptors.get(lookup.value, nowMs);
      const fast: KeyRow | undefined = (
        await this.hot(
          descriptor ? this.sql.chargeFastSlim(lookup.by) : this.sql.chargeFast(lookup.by),
          params,
        )
      ).rows[0];
      if (fast) {
        if (!descriptor) this.descriptors.set(lookup.value, fast, nowMs);
        return passedRow(descriptor ?? fast, fast);
      }
    }
    const row: KeyRow | undefined = (await this.hot(this.sql.charge(lookup.by), params)).rows[0];
    if (row) this.descriptors.set(lookup.value, row, nowMs);
    return row;
  }

  private async validateRow(lookup: Lookup): Promise<ValidateResult | ValidateFailure> {
    const now = this.now();
    const params = [lookup.value, now.toISOString()];
    let row: (KeyRow & { needs_write?: boolean }) | undefined = (
      await this.hot(this.sql.peek(lookup.by), params)
    ).rows[0];
    if (row?.needs_write) row = (await this.hot(this.sql.touch(lookup.by), params)).rows[0];
    if (!row) return { valid: false, reason: 'invalid' };
    if (row.revoked_at !== null) return { valid: false, reason: 'revoked' };
    if (row.expires_at !== null && row.expires_at <= now.getTime())
      return { valid: false, reason: 'expired' };
    if (isExhausted(row)) return { valid: false, reason: 'budget_exceeded' };
    return toValidateResult(row);
  }

  private async trackRow(lookup: Lookup | null, costCents: unknown): Promise<TrackUsageResult> {
    if (typeof costCents !== 'number' || !Number.isFinite(costCents))
      return { success: false, reason: 'invalid_cost' };
    if (costCents <= 0) return { success: true };
    // 0.2.0 bills whole cents, rounding up.
    const cost = costToMicros(Math.ceil(costCents));
    if (!cost.ok) return { success: false, reason: 'invalid_cost' };
    if (!lookup) return { success: false, reason: 'invalid_key' };
    for (let attempt = 0; ; attempt++) {
      const now = this.now();
      const row = await this.chargeRow(lookup, now, cost.micros, null, true);
      if (!row || row.revoked_at !== null || (row.expires_at !== null && row.expires_at <= now.getTime())) {
        return { success: false, reason: 'invalid_key' };
      }
      if (row.passed) {
        const used = usedWholeCents(row);
        return {
          success: true,
          budgetUsedCents: used,
          budgetRemainingCents: row.budget_cents === null ? null : Math.max(0, row.budget_cents - used),
        };
      }
      if (!fits(row, cost.micros) || attempt >= RACE_RETRIES)
        return { success: false, reason: 'budget_exceeded' };
    }
  }

  private async updateRow(
    lookup: { by: 'id' | Selector; value: unknown },
    changes: UpdateOptions,
  ): Promise<KeyInfo | null> {
    if (!changes || typeof changes !== 'object')
      throw new AgentKeyInputError('changes must be an object', 'changes');
    const now = this.now();
    const sets: string[] = [];
    const params: unknown[] = [lookup.value];
    const set = (column: string, value: unknown, cast = '') => {
      params.push(value);
      sets.push(`${column} = $${params.length}${cast}`);
    };
    if (changes.scopes !== undefined)
      set('scopes', checkScopes(changes.scopes, this.validScopes), '::text[]');
    if (changes.budgetCents !== undefined) set('budget_cents', checkBudget(changes.budgetCents));
    if (changes.budgetPeriod !== undefined) {
      const period = checkPeriod(changes.budgetPeriod);
      set('budget_period', period);
      set('budget_reset_at', period ? firstReset(period, now) : null, '::timestamptz');
    }
    if (changes.expiresIn !== undefined && changes.expiresAt !== undefined) {
      throw new AgentKeyInputError('give expiresIn or expiresAt, not both', 'expiresAt');
    }
    if (changes.expiresIn !== undefined) {
      set(
        'expires_at',
        changes.expiresIn === null ? null : new Date(now.getTime() + parseDuration(changes.expiresIn)),
        '::timestamptz',
      );
    }
    if (changes.expiresAt !== undefined) {
      if (
        changes.expiresAt !== null &&
        !(changes.expiresAt instanceof Date && Number.isFinite(changes.expiresAt.getTime()))
      ) {
        throw new AgentKeyInputError('expiresAt must be a valid Date or null', 'expiresAt');
      }
      set('expires_at', changes.expiresAt, '::timestamptz');
    }
    if (changes.name !== undefined) set('name', checkName(changes.name));
    if (sets.length === 0) throw new AgentKeyInputError('nothing to update', 'changes');
    const result = await this.pool.query(
      `UPDATE ${this.tables.keys} SET ${sets.join(', ')} WHERE ${lookup.by} = $1 RETURNING id`,
      params,
    );
    this.descriptors.clear();
    if (result.rows.length === 0) return null;
    const read = await this.pool.query(this.sql.read('id'), [result.rows[0].id, now]);
    return toKeyInfo(read.rows[0]);
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

/** A passed charge's row, built field by field: object spread of pg rows is a slow path in V8. */
function passedRow(d: Descriptor, n: KeyRow): KeyRow {
  return {
    id: n.id,
    account_id: d.account_id,
    user_id: d.user_id,
    name: d.name,
    scopes: d.scopes,
    budget_cents: n.budget_cents,
    budget_period: d.budget_period,
    expires_at: n.expires_at,
    delegated_by: d.delegated_by,
    revoked_at: null,
    external_subject: d.external_subject,
    used_micros: n.used_micros,
    budget_reset_at: n.budget_reset_at,
    passed: true,
  };
}

function refuse(error: AuthError): AuthorizeResult {
  return { ok: false, error };
}

function fits(row: KeyRow, costMicros: number): boolean {
  if (row.budget_cents === null) return true;
  const cap = row.budget_cents * MICROS_PER_CENT;
  const used = Number(row.used_micros);
  return used + costMicros <= cap && used < cap;
}

/** Why a row refuses, checked in 0.2.0's order: revoked, expired, then scope, then budget. */
function diagnose(
  row: KeyRow,
  now: Date,
  scope: string | null,
  tokenGrants: boolean,
  costMicros: number,
): AuthError | null {
  if (row.revoked_at !== null)
    return { code: 'invalid_token', reason: 'revoked', description: 'The credential was revoked.' };
  if (row.expires_at !== null && row.expires_at <= now.getTime()) {
    return { code: 'invalid_token', reason: 'expired', description: 'The credential has expired.' };
  }
  if (scope !== null) {
    const rowGrants = row.scopes === null || row.scopes.includes(scope) || row.scopes.includes('admin');
    if (!rowGrants || !tokenGrants) {
      return {
        code: 'insufficient_scope',
        scope,
        description: `The credential lacks the scope ${printable(scope)}.`,
      };
    }
  }
  return fits(row, costMicros) ? null : budgetRefusal(row, now);
}

function budgetRefusal(row: KeyRow, now: Date): AuthError {
  const resetAt = row.budget_reset_at === null ? null : new Date(row.budget_reset_at);
  return {
    code: 'budget_exceeded',
    cap: 'key',
    description: 'The budget would be exceeded.',
    ...(resetAt ? { retryAfterSec: Math.max(1, Math.ceil((resetAt.getTime() - now.getTime()) / 1000)) } : {}),
  };
}

function checkBudget(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > MAX_BUDGET_CENTS) {
    throw new AgentKeyInputError(
      `Invalid budget: ${printable(String(value))} (whole cents from 0 to ${MAX_BUDGET_CENTS})`,
      'budgetCents',
    );
  }
  return value;
}

function checkPeriod(value: unknown): BudgetPeriod | null {
  if (value === null || value === undefined) return null;
  if (!PERIODS.includes(value as BudgetPeriod)) {
    throw new AgentKeyInputError(`Invalid budget period: ${printable(String(value))}`, 'budgetPeriod');
  }
  return value as BudgetPeriod;
}
