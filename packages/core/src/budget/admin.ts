import type { StoreContext } from '../context.js';
import type { CounterTarget } from '../counter/port.js';
import { rowTarget } from '../counter/target.js';
import { AgentKeyInputError } from '../errors/errors.js';
import { actorOf, checkBudget, checkDate, checkPeriod, isRowId, targetColumn } from '../input/options.js';
import { checkRateLimit, rateColumns, rateLimitOf } from '../input/rate-limit.js';
import { checkIdent } from '../input/values.js';
import { budgetNumbers } from '../keys/rows.js';
import { updateKey } from '../keys/update.js';
import type {
  AccountInfo,
  AuditOptions,
  BudgetTarget,
  RateLimit,
  SpendOptions,
  SpendReport,
} from '../types.js';
import { MAX_BUDGET_CENTS, MICROS_PER_CENT } from './money.js';
import { type BudgetPeriod, firstReset } from './period.js';

/** Account ceilings, top-ups, resets and spend reports. Each change writes its audit row with it. */
export class BudgetAdmin {
  constructor(private readonly ctx: StoreContext) {}

  async setAccountBudget(
    accountId: string | number,
    options: { budgetCents: number | null; budgetPeriod?: BudgetPeriod | null },
    audit: AuditOptions,
  ): Promise<AccountInfo> {
    const { ctx } = this;
    const account = checkIdent(accountId, 'accountId');
    const budget = checkBudget(options?.budgetCents);
    const period = checkPeriod(options?.budgetPeriod);
    const now = ctx.now();
    await ctx.pool.query(ctx.admin.setAccount, [
      account,
      now,
      budget,
      period,
      period ? firstReset(period, now) : null,
      actorOf(audit),
    ]);
    ctx.changes.changed('account', { accountId: account });
    return (await this.getAccount(account))!;
  }

  /**
   * A key's or subject's cap and period through `update`; an account's through `setAccountBudget`.
   * Returns what changed as the counter names it (the row's account), null when nothing did.
   */
  async setBudget(
    target: BudgetTarget,
    options: { budgetCents: number | null; budgetPeriod?: BudgetPeriod | null },
    audit: AuditOptions,
  ): Promise<CounterTarget | null> {
    if ('accountId' in target) {
      const info = await this.setAccountBudget(target.accountId, options, audit);
      return info ? { accountId: info.accountId } : null;
    }
    const id = (await this.rowId(target)) ?? 0;
    const changes = {
      budgetCents: options.budgetCents,
      ...(options.budgetPeriod !== undefined ? { budgetPeriod: options.budgetPeriod } : {}),
    };
    const info = await updateKey(this.ctx, id, changes, audit);
    return info ? rowTarget(info.accountId, info.id) : null;
  }

  async getAccount(accountId: string | number): Promise<AccountInfo | null> {
    const { ctx } = this;
    const account = checkIdent(accountId, 'accountId');
    const row = (await ctx.pool.query(ctx.admin.readAccount, [account, ctx.now()])).rows[0];
    if (!row) return null;
    const { limitCents, usedCents, heldCents, remainingCents, period, resetAt } = budgetNumbers(
      row.budget_cents,
      row.used_micros,
      row.held_micros,
      row.budget_period,
      row.budget_reset_at,
    );
    return {
      accountId: account,
      limitCents,
      usedCents,
      heldCents,
      remainingCents,
      period,
      resetAt,
      rateLimit: rateLimitOf(row),
    };
  }

  /** Sets (or with null removes) the rate limit every key and subject of the account shares. */
  async setAccountRateLimit(
    accountId: string | number,
    limit: RateLimit | null,
    audit: AuditOptions,
  ): Promise<AccountInfo> {
    const { ctx } = this;
    const account = checkIdent(accountId, 'accountId');
    if (limit === undefined)
      throw new AgentKeyInputError('rateLimit must be given (null: none)', 'rateLimit');
    const columns = rateColumns(checkRateLimit(limit));
    await ctx.pool.query(ctx.admin.setAccountRate, [account, ctx.now(), actorOf(audit), ...columns]);
    ctx.descriptors.clear();
    return (await this.getAccount(account))!;
  }

  async spend(target: BudgetTarget, options: SpendOptions): Promise<SpendReport> {
    const { column, value } = targetColumn(target);
    const from = checkDate(options?.from, 'from');
    const to = checkDate(options?.to, 'to');
    const groupBy = options.groupBy ?? null;
    if (groupBy !== null && groupBy !== 'hour' && groupBy !== 'day') {
      throw new AgentKeyInputError('groupBy must be hour or day', 'groupBy');
    }
    const rows = (await this.ctx.pool.query(this.ctx.admin.spend(column), [value, from, to, groupBy])).rows;
    const buckets = rows.map((r) => ({
      start: r.bucket === null ? from : new Date(r.bucket),
      cents: Number(r.micros) / MICROS_PER_CENT,
    }));
    return {
      totalCents:
        buckets.reduce((sum, b) => sum + Math.round(b.cents * MICROS_PER_CENT), 0) / MICROS_PER_CENT,
      ...(groupBy ? { buckets } : {}),
    };
  }

  /** Returns what changed as the counter names it (the row's account), null when nothing did. */
  async topUp(target: BudgetTarget, cents: number, audit: AuditOptions): Promise<CounterTarget | null> {
    if (!Number.isSafeInteger(cents) || cents <= 0 || cents > MAX_BUDGET_CENTS) {
      throw new AgentKeyInputError('cents must be a positive whole number of cents', 'cents');
    }
    const { topUpAccount, topUpKey } = this.ctx.admin;
    try {
      return await this.onTarget(target, topUpAccount, topUpKey, audit, [cents]);
    } catch (error) {
      // The cap is an integer column: past its largest value PostgreSQL refuses the whole
      // statement (nothing changed), and the caller should hear why in its own terms.
      if ((error as { code?: string }).code === '22003') {
        throw new AgentKeyInputError(
          `cents: a top-up of ${cents} would take the cap past ${MAX_BUDGET_CENTS} cents, the most a budget can be (nothing changed)`,
          'cents',
        );
      }
      throw error;
    }
  }

  /** As `topUp`: what changed, or null. */
  resetBudget(target: BudgetTarget, audit: AuditOptions): Promise<CounterTarget | null> {
    const { resetAccount, resetKey } = this.ctx.admin;
    return this.onTarget(target, resetAccount, resetKey, audit, []);
  }

  /**
   * Runs the account's or the key's statement with ($1 target, $2 now, $3 actor, …extra); returns
   * the changed row's account (the key's statements return it), null when no row changed.
   */
  private async onTarget(
    target: BudgetTarget,
    accountSql: string,
    keySql: string,
    audit: AuditOptions,
    extra: unknown[],
  ): Promise<CounterTarget | null> {
    const { ctx } = this;
    const now = ctx.now();
    if ('accountId' in target) {
      const accountId = checkIdent(target.accountId, 'accountId');
      const result = await ctx.pool.query(accountSql, [accountId, now, actorOf(audit), ...extra]);
      if (result.rows.length === 0) return null;
      ctx.changes.changed('budget', { accountId });
      return { accountId };
    }
    const keyId = await this.rowId(target);
    const row = (await ctx.pool.query(keySql, [keyId, now, actorOf(audit), ...extra])).rows[0];
    if (!row || keyId === null) return null;
    ctx.changes.changed('budget', { keyId });
    return rowTarget(row.account_id, Number(row.id));
  }

  /** The row id of a key or subject target; null when no such subject. */
  async rowId(target: { keyId: number } | { subject: string }): Promise<number | null> {
    if ('keyId' in target) {
      if (!isRowId(target.keyId)) throw new AgentKeyInputError('keyId must be a key id', 'keyId');
      return target.keyId;
    }
    const found = await this.ctx.pool.query(
      `SELECT id FROM ${this.ctx.tables.keys} WHERE external_subject = $1`,
      [checkIdent(target.subject, 'subject')],
    );
    return found.rows[0] ? Number(found.rows[0].id) : null;
  }
}
