import type { StoreContext } from '../context.js';
import { rowIdOf } from '../input/options.js';
import { checkIdent } from '../input/values.js';
import type { KeyInfo } from '../types.js';
import { toKeyInfo } from './rows.js';

/** `getKey`: a key or subject by row id (also from 0.2.0's digit strings); null when none. */
export async function readKey(ctx: StoreContext, keyIdIn: number | string): Promise<KeyInfo | null> {
  const keyId = rowIdOf(keyIdIn);
  if (keyId === null) return null;
  const result = await ctx.pool.query(ctx.sql.read('id'), [keyId, ctx.now()]);
  return result.rows[0] ? toKeyInfo(result.rows[0]) : null;
}

/** `getSubject`: an external subject's row; null when it has none. */
export async function readSubject(ctx: StoreContext, subject: string): Promise<KeyInfo | null> {
  const checked = checkIdent(subject, 'subject');
  const result = await ctx.pool.query(ctx.sql.read('external_subject'), [checked, ctx.now()]);
  return result.rows[0] ? toKeyInfo(result.rows[0]) : null;
}

/** `listKeys`: every key and subject of an account, by id. */
export async function listKeys(ctx: StoreContext, accountId: string | number): Promise<KeyInfo[]> {
  const account = checkIdent(accountId, 'accountId');
  const result = await ctx.pool.query(ctx.sql.listByAccount, [account, ctx.now()]);
  return result.rows.map(toKeyInfo);
}
