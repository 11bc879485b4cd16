import { AgentKeyInputError } from '../errors/errors.js';

/** What a change names: a key or subject row by id, an external subject, or an account. */
export type ChangeTarget = { keyId: number } | { subject: string } | { accountId: string };

/**
 * One committed admin change, published so that every process drops what it cached of the row.
 * `table` is the keys table's id (`AgentKey.tableName`): one feed may carry several deployments.
 */
export interface Change {
  table: string;
  what: 'revoke' | 'update' | 'budget' | 'account';
  target: ChangeTarget;
}

/**
 * Carries changes between the processes of one deployment (`@agentkey/redis`'s `redisChanges`
 * is one). `publish` is called after the change committed and never awaited by the admin call;
 * a lost publication only means other processes wait for their caches' own bound (≤ 1 s).
 * A listener gets `null` when the feed may have missed changes (a reconnect): drop everything.
 */
export interface ChangeFeed {
  publish(change: Change): Promise<void> | void;
  /** Returns a function that stops the listener. */
  subscribe(listener: (change: Change | null) => void): () => void;
}

/** The `changes` option: a ChangeFeed, when given. */
export function checkChangeFeed(feed: unknown): ChangeFeed | null {
  if (feed === undefined || feed === null) return null;
  const f = feed as Partial<ChangeFeed>;
  if (typeof f !== 'object' || typeof f.publish !== 'function' || typeof f.subscribe !== 'function') {
    throw new AgentKeyInputError(
      'changes must be a ChangeFeed: an object with publish(change) and subscribe(listener)',
      'changes',
    );
  }
  return f as ChangeFeed;
}

const isTarget = (t: unknown): t is ChangeTarget => {
  if (typeof t !== 'object' || t === null) return false;
  const v = t as Record<string, unknown>;
  return (
    (Number.isSafeInteger(v.keyId) && (v.keyId as number) > 0) ||
    (typeof v.subject === 'string' && v.subject.length > 0) ||
    (typeof v.accountId === 'string' && v.accountId.length > 0)
  );
};

/** A change as a feed delivered it (JSON from another process): the shape, or null. */
export function parseChange(value: unknown): Change | null {
  if (typeof value !== 'object' || value === null) return null;
  const c = value as Record<string, unknown>;
  if (typeof c.table !== 'string' || !['revoke', 'update', 'budget', 'account'].includes(c.what as string)) {
    return null;
  }
  return isTarget(c.target) ? { table: c.table, what: c.what as Change['what'], target: c.target } : null;
}
