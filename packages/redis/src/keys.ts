/**
 * Redis key names. Every key of an account — its keys' mirrors, their pool parents' (a pooled key
 * stays in its parent's account), the account's own, their in-flight sets and the generation —
 * carries the account as its hash tag, so one script sees them all, on a Cluster too.
 */
export interface TagKeys {
  key(id: number): string;
  inflight(id: number): string;
  account: string;
  accountInflight: string;
  generation: string;
}

/** `{`, `}` and `%` are escaped, so no account id can end its tag early or mimic another's keys. */
const escapeChars = (text: string, chars: RegExp) =>
  text.replace(chars, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
const escapeTag = (accountId: string) => escapeChars(accountId, /[%{}]/g);

/**
 * `table` is the store's (RedisCounter.bind): each table's mirrors and in-flight sets are its own,
 * after the tag (`agentkey:{acct_1}:app.keys:k:42`, `:` escaped too), so two deployments on one
 * Redis never share one. The generation is the account's under the prefix, shared by its tables:
 * it only ever untrusts, so one table's admin change costs the other a rebuild, never a refusal.
 */
export function tagKeys(prefix: string, accountId: string, table = ''): TagKeys {
  const tag = `${prefix}{${escapeTag(accountId)}}:`;
  const base = table ? `${tag}${escapeChars(table, /[%{}:]/g)}:` : tag;
  return {
    key: (id) => `${base}k:${id}`,
    inflight: (id) => `${base}kf:${id}`,
    account: `${base}a`,
    accountInflight: `${base}af`,
    generation: `${tag}g`,
  };
}

/** The seven KEYS of a call: key, its set, pool parent (or a placeholder), its set, account, its set, generation. */
export function callKeys(tag: TagKeys, keyId: number, poolId: number | null): string[] {
  const pool = poolId ?? 0;
  return [
    tag.key(keyId),
    tag.inflight(keyId),
    tag.key(pool),
    tag.inflight(pool),
    tag.account,
    tag.accountInflight,
    tag.generation,
  ];
}

/** Where a table's relay keeps its leads and channels (relay.ts): `agentkey:app.keys:`, `:` escaped. */
export function relayBase(prefix: string, table: string): string {
  return `${prefix}${escapeChars(table, /[%{}:]/g)}:`;
}
