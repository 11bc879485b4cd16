import { firstReset } from '../budget/period.js';
import type { StoreContext } from '../context.js';
import { AgentKeyInputError } from '../errors/errors.js';
import { parsePositiveDuration } from '../input/duration.js';
import { actorOf, checkBudget, checkPeriod, rowIdOf } from '../input/options.js';
import { checkRateLimit, rateColumns } from '../input/rate-limit.js';
import { checkIdent, checkName, checkScopes } from '../input/values.js';
import { periodSets } from '../sql/admin.js';
import type { Selector } from '../sql/columns.js';
import type { AuditOptions, KeyInfo, UpdateOptions } from '../types.js';
import { toKeyInfo } from './rows.js';

/** `update`: a key or subject by row id (also from 0.2.0's digit strings); null when none. */
export function updateKey(
  ctx: StoreContext,
  keyIdIn: number | string,
  changes: UpdateOptions,
  audit: AuditOptions,
): Promise<KeyInfo | null> {
  const keyId = rowIdOf(keyIdIn);
  if (keyId === null) return Promise.resolve(null);
  return updateRow(ctx, { by: 'id', value: keyId }, changes, audit);
}

/** `updateSubject`: an external subject's row. A malformed subject throws at once. */
export function updateSubject(
  ctx: StoreContext,
  subject: string,
  changes: UpdateOptions,
  audit: AuditOptions,
): Promise<KeyInfo | null> {
  return updateRow(ctx, { by: 'external_subject', value: checkIdent(subject, 'subject') }, changes, audit);
}

/** One audited UPDATE of the changed columns, then the row as read back. */
async function updateRow(
  ctx: StoreContext,
  lookup: { by: 'id' | Selector; value: unknown },
  changes: UpdateOptions,
  audit: AuditOptions,
): Promise<KeyInfo | null> {
  if (!changes || typeof changes !== 'object')
    throw new AgentKeyInputError('changes must be an object', 'changes');
  const now = ctx.now();
  const sets: string[] = [];
  const params: unknown[] = [lookup.value];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  const set = (column: string, value: unknown, cast = '') => sets.push(`${column} = ${param(value)}${cast}`);
  if (changes.scopes !== undefined) set('scopes', checkScopes(changes.scopes, ctx.validScopes), '::text[]');
  if (changes.budgetCents !== undefined) set('budget_cents', checkBudget(changes.budgetCents));
  if (changes.budgetPeriod !== undefined) {
    const period = checkPeriod(changes.budgetPeriod);
    sets.push(...periodSets(param(period), param(period ? firstReset(period, now) : null), param(now)));
  }
  if (changes.expiresIn !== undefined && changes.expiresAt !== undefined) {
    throw new AgentKeyInputError('give expiresIn or expiresAt, not both', 'expiresAt');
  }
  if (changes.expiresIn !== undefined) {
    set(
      'expires_at',
      changes.expiresIn === null ? null : new Date(now.getTime() + parsePositiveDuration(changes.expiresIn)),
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
  if (changes.rateLimit !== undefined) {
    const [requests, cents, windowSec] = rateColumns(checkRateLimit(changes.rateLimit));
    set('rate_requests', requests, '::integer');
    set('rate_cents', cents, '::integer');
    set('rate_window_sec', windowSec, '::integer');
  }
  if (sets.length === 0) throw new AgentKeyInputError('nothing to update', 'changes');
  params.push(now, actorOf(audit));
  const result = await ctx.pool.query(
    ctx.sql.audited(
      `UPDATE ${ctx.tables.keys} SET ${sets.join(', ')} WHERE ${lookup.by} = $1`,
      'admin:update',
      params.length - 1,
      params.length,
    ),
    params,
  );
  ctx.descriptors.clear();
  if (result.rows.length === 0) return null;
  const read = await ctx.pool.query(ctx.sql.read('id'), [result.rows[0].id, now]);
  return toKeyInfo(read.rows[0]);
}
