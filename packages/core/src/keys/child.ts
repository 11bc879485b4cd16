import type { StoreContext } from '../context.js';
import { AgentKeyInputError } from '../errors/errors.js';
import { parsePositiveDuration } from '../input/duration.js';
import { validateLookup } from '../legacy/validate.js';
import type { CreateKeyResult } from '../types.js';
import { createKey } from './create.js';
import { keyLookup } from './lookup.js';
import { revokeKey } from './revoke.js';
import { grantsAll } from './rows.js';

export interface ChildKeyOptions {
  scopes?: string[] | null;
  budgetCents?: number | null;
  expiresIn?: string;
  name?: string;
}

/**
 * `withChildKey`: a child of `parentKey` on the parent's pool, revoked when `fn` settles. Its
 * expiry, never past the parent's, is written by its INSERT: there is no moment, and no failed
 * second statement, at which a child outlives its parent.
 */
export async function withChildKey<T>(
  ctx: StoreContext,
  parentKey: string,
  options: ChildKeyOptions,
  fn: (child: CreateKeyResult) => Promise<T> | T,
): Promise<T> {
  const expiresIn = options?.expiresIn ?? '1h';
  parsePositiveDuration(expiresIn);
  const parent = await validateLookup(ctx, keyLookup(parentKey));
  if (!parent.valid) throw new AgentKeyInputError(`parent key is not usable: ${parent.reason}`, 'parentKey');
  const scopes = options.scopes ?? parent.scopes;
  if (!grantsAll(parent.scopes) && (scopes === null || scopes.some((s) => !parent.scopes!.includes(s)))) {
    throw new AgentKeyInputError('scopes: a child may not have scopes its parent lacks', 'scopes');
  }
  const actor = parent.userId ?? parent.accountId;
  const child = await createKey(
    ctx,
    {
      accountId: parent.accountId,
      userId: parent.userId,
      scopes,
      budgetCents: options.budgetCents ?? null,
      expiresIn,
      delegatedBy: actor,
      name: options.name ?? 'child',
      poolParentId: parent.id,
    },
    parent.expiresAt === null ? null : new Date(parent.expiresAt),
  );
  try {
    return await fn(child);
  } finally {
    await revokeKey(ctx, child.id, null, { actor });
  }
}
