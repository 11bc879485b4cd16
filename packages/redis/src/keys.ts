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
const escapeTag = (accountId: string) =>
  accountId.replace(/[%{}]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

export function tagKeys(prefix: string, accountId: string): TagKeys {
  const base = `${prefix}{${escapeTag(accountId)}}:`;
  return {
    key: (id) => `${base}k:${id}`,
    inflight: (id) => `${base}kf:${id}`,
    account: `${base}a`,
    accountInflight: `${base}af`,
    generation: `${base}g`,
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
