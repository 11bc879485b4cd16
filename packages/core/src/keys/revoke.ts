import type { StoreContext } from '../context.js';
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
): Promise<boolean> {
  const keyId = rowIdOf(keyIdIn);
  if (keyId === null) return false;
  const account = accountId === undefined || accountId === null ? null : checkIdent(accountId, 'accountId');
  return revoked(ctx, 'id', keyId, account, audit);
}

/** `revokeSubject`: an external subject's row. */
export async function revokeSubject(
  ctx: StoreContext,
  subject: string,
  audit: AuditOptions,
): Promise<boolean> {
  return revoked(ctx, 'external_subject', checkIdent(subject, 'subject'), null, audit);
}

/** One audited UPDATE; true when it revoked a live row. Cached descriptors go with it, in every process (changes/). */
async function revoked(
  ctx: StoreContext,
  by: Selector | 'id',
  value: unknown,
  account: string | null,
  audit: AuditOptions,
): Promise<boolean> {
  const result = await ctx.pool.query(ctx.sql.revoke(by), [value, ctx.now(), account, actorOf(audit)]);
  const row = result.rows[0];
  if (!row) return false;
  ctx.changes.changed(
    'revoke',
    by === 'external_subject' ? { subject: value as string } : { keyId: Number(row.id) },
  );
  return true;
}
