import type { StoreContext } from '../context.js';
import type { CounterTarget } from '../counter/port.js';
import { rowTarget } from '../counter/target.js';
import { actorOf, rowIdOf } from '../input/options.js';
import { checkIdent } from '../input/values.js';
import type { Selector } from '../sql/columns.js';
import type { AuditOptions } from '../types.js';

/** `revoke`: a live key by id; with `accountId`, only when it belongs to that account. */
export async function revokeKey(
  ctx: StoreContext,
  keyIdIn: number | string,
  accountId: string | number | null | undefined,
  audit: AuditOptions,
): Promise<CounterTarget | null> {
  const keyId = rowIdOf(keyIdIn);
  if (keyId === null) return null;
  const account = accountId === undefined || accountId === null ? null : checkIdent(accountId, 'accountId');
  return revoked(ctx, 'id', keyId, account, audit);
}

/** `revokeSubject`: an external subject's row. */
export async function revokeSubject(
  ctx: StoreContext,
  subject: string,
  audit: AuditOptions,
): Promise<CounterTarget | null> {
  return revoked(ctx, 'external_subject', checkIdent(subject, 'subject'), null, audit);
}

/**
 * One audited UPDATE; the revoked row's account as the counter names it, null when no live row was
 * revoked. Cached descriptors go with it, in every process (changes/).
 */
async function revoked(
  ctx: StoreContext,
  by: Selector | 'id',
  value: unknown,
  account: string | null,
  audit: AuditOptions,
): Promise<CounterTarget | null> {
  const result = await ctx.pool.query(ctx.sql.revoke(by), [value, ctx.now(), account, actorOf(audit)]);
  const row = result.rows[0];
  if (!row) return null;
  ctx.changes.changed(
    'revoke',
    by === 'external_subject' ? { subject: value as string } : { keyId: Number(row.id) },
  );
  return rowTarget(row.account_id, Number(row.id));
}
