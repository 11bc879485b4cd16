import type { StoreContext } from '../context.js';
import { AgentKeyInputError } from '../errors/errors.js';
import { rowIdOf } from '../input/options.js';
import { checkIdent, checkOptionalIdent } from '../input/values.js';
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

/** `listSubjects`: external subjects (of one account, or all), by id, at most `limit`. */
export async function listSubjects(
  ctx: StoreContext,
  options: { accountId?: string | number | null; limit?: number } = {},
): Promise<KeyInfo[]> {
  const account = checkOptionalIdent(options.accountId, 'accountId');
  const limit = options.limit ?? 1000;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 10_000) {
    throw new AgentKeyInputError('limit must be a whole number from 1 to 10000', 'limit');
  }
  const result = await ctx.pool.query(ctx.sql.listSubjects, [account, ctx.now(), limit]);
  return result.rows.map(toKeyInfo);
}
