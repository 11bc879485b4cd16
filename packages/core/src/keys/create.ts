import { firstReset } from '../budget/period.js';
import type { StoreContext } from '../context.js';
import { inTime } from '../db/deadline.js';
import { AgentKeyInputError } from '../errors/errors.js';
import { parseDuration } from '../input/duration.js';
import { actorOf, checkBudget, checkDate, checkPeriod, isRowId } from '../input/options.js';
import { checkRateLimit, rateColumns } from '../input/rate-limit.js';
import { checkIdent, checkName, checkOptionalIdent, checkScopes } from '../input/values.js';
import { type NewRow, newRowParams } from '../sql/insert.js';
import type { AuditOptions, CreateKeyOptions, CreateKeyResult, EnsureSubjectOptions } from '../types.js';
import { earliest } from './rows.js';
import { newKey, unusableHash } from './secret.js';

/** What the caller's options say of a new row, checked; what only the kind of row says is left out. */
type Described = Omit<NewRow, 'keyHash' | 'keyPrefix' | 'externalSubject' | 'poolParentId'>;

/**
 * Checks the options of a new key or subject (throwing AgentKeyInputError naming the option) and
 * derives their times as of now. `notAfter`: an expiry the row may not outlive (a child's parent's).
 */
function described(
  ctx: StoreContext,
  options: EnsureSubjectOptions,
  accountId: string,
  notAfter: Date | null = null,
  actor: string | null = null,
): Described {
  if (!options || typeof options !== 'object')
    throw new AgentKeyInputError('options must be an object', 'options');
  const now = ctx.now();
  const budgetPeriod = checkPeriod(options.budgetPeriod);
  const userId = checkOptionalIdent(options.userId, 'userId');
  const delegatedBy = checkOptionalIdent(options.delegatedBy, 'delegatedBy');
  const [rateRequests, rateCents, rateWindowSec] = rateColumns(checkRateLimit(options.rateLimit));
  return {
    accountId,
    userId,
    delegatedBy,
    name: checkName(options.name),
    scopes: checkScopes(options.scopes, ctx.validScopes),
    budgetCents: checkBudget(options.budgetCents),
    budgetPeriod,
    budgetResetAt: budgetPeriod ? firstReset(budgetPeriod, now) : null,
    rateRequests,
    rateCents,
    rateWindowSec,
    expiresAt: earliest(
      options.expiresIn === null || options.expiresIn === undefined
        ? null
        : new Date(now.getTime() + parseDuration(options.expiresIn)),
      notAfter,
    ),
    now,
    // Who the caller says made the row, else whoever delegated it.
    actor: actor ?? delegatedBy,
  };
}

/** `create`: one audited INSERT of a new key; the key itself is returned once and never stored. */
export async function createKey(
  ctx: StoreContext,
  options: CreateKeyOptions,
  notAfter: Date | null = null,
  audit: AuditOptions = {},
): Promise<CreateKeyResult> {
  const asked = options?.notAfter == null ? null : checkDate(options.notAfter, 'notAfter');
  const accountId = checkIdent(options?.accountId, 'accountId');
  const row = described(ctx, options, accountId, earliest(notAfter, asked), actorOf(audit));
  const poolParentId = await poolRoot(ctx, options.poolParentId, row.accountId);
  const { key, hash, start } = newKey(ctx.keyPrefix);
  const result = await ctx.pool.query(
    ctx.sql.insert,
    newRowParams({ ...row, keyHash: hash, keyPrefix: start, externalSubject: null, poolParentId }),
  );
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
async function poolRoot(ctx: StoreContext, parentId: unknown, accountId: string): Promise<number | null> {
  if (parentId === undefined || parentId === null) return null;
  if (!isRowId(parentId)) throw new AgentKeyInputError('poolParentId must be a key id', 'poolParentId');
  const found = await ctx.pool.query(
    `SELECT COALESCE(pool_parent_id, id) AS root, revoked_at IS NOT NULL AS revoked, account_id
      FROM ${ctx.tables.keys} WHERE id = $1`,
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

/**
 * `ensureSubject` and `provisionSubject`: the subject's row unless it has one (one INSERT … ON
 * CONFLICT DO NOTHING); true when this call created it. Bounded: the gate calls it on the request path.
 */
export async function provisionSubject(
  ctx: StoreContext,
  subject: string,
  options: EnsureSubjectOptions,
): Promise<boolean> {
  const checked = checkIdent(subject, 'subject');
  const row = described(ctx, options, checkIdent(options.accountId ?? checked, 'accountId'));
  const insert = ctx.pool.query(
    ctx.sql.insertSubject,
    newRowParams({
      ...row,
      keyHash: unusableHash(),
      keyPrefix: 'external',
      externalSubject: checked,
      poolParentId: null,
    }),
  );
  return (await inTime(insert, ctx.timeoutMs)).rows.length > 0;
}

/** Throws what `provisionSubject` would throw for these options, without touching the database. */
export function checkSubjectOptions(ctx: StoreContext, options: EnsureSubjectOptions): void {
  described(ctx, options, 'check');
}
