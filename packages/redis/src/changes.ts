import {
  AgentKeyInputError,
  type Change,
  type ChangeFeed,
  consoleStoreReporter,
  parseChange,
  reportSafely,
  type StoreReporter,
} from '@agentkey/core';
import type { Cluster, Redis } from 'ioredis';
import { knownOptions } from './options.js';
import { subscribe } from './relay-wire.js';

export interface RedisChangesOptions {
  /** An ioredis client (or Cluster); the feed publishes on it and subscribes on a `duplicate()`. */
  redis: Redis | Cluster;
  /** Namespaces the channel (`<prefix>changes`); default `agentkey:`. */
  prefix?: string;
  /** A publication not sent by then is given up (the caches' own ≤ 1 s bound covers it); default 1000. */
  publishTimeoutMs?: number;
  /**
   * Hears a subscription that could not be made (Redis down when the feed starts, say): the feed
   * tries again on its own meanwhile. Default: console.error, as the store's `onError`.
   */
  onError?: StoreReporter;
}

/** A ChangeFeed on Redis pub/sub. */
export interface RedisChanges extends ChangeFeed {
  /** The subscriber connection is up and subscribed. */
  readonly connected: boolean;
  /** Closes the subscriber connection (the injected client is the application's to close). */
  close(): Promise<void>;
}

const PREFIX = /^[A-Za-z0-9:_.{}-]{0,64}$/;
/** A failed subscription is tried again after this, doubling up to RETRY_MAX_MS. */
const RETRY_MS = 100;
const RETRY_MAX_MS = 5000;
/** While the subscription keeps failing, it is reported once, then at most this often. */
const REPORT_EVERY_MS = 30_000;
/**
 * `new AgentKey({ pool, changes: redisChanges({ redis }) })`: admin changes are published on
 * Redis, and every process subscribed drops what it cached of the row at once. When the
 * subscriber is disconnected, changes published meanwhile are lost; the caches then follow the row
 * within their own bound (descriptorTtlMs ≤ 1 s), and on reconnect every cache is dropped once.
 */
export function redisChanges(options: RedisChangesOptions): RedisChanges {
  if (!options || typeof options !== 'object')
    throw new AgentKeyInputError('options must be an object', 'options');
  knownOptions(options, ['redis', 'prefix', 'publishTimeoutMs', 'onError'], 'redisChanges');
  const { redis } = options;
  if (!redis || typeof redis.publish !== 'function' || typeof redis.duplicate !== 'function') {
    throw new AgentKeyInputError('redis must be an ioredis Redis or Cluster client', 'redis');
  }
  const prefix = options.prefix === undefined ? 'agentkey:' : options.prefix;
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    throw new AgentKeyInputError('prefix must be at most 64 letters, digits or :_.{}-', 'prefix');
  }
  const timeoutMs = options.publishTimeoutMs ?? 1000;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 60_000) {
    throw new AgentKeyInputError(
      'publishTimeoutMs must be a whole number of ms from 1 to 60000',
      'publishTimeoutMs',
    );
  }
  const report = options.onError ?? consoleStoreReporter;
  if (typeof report !== 'function') throw new AgentKeyInputError('onError must be a function', 'onError');
  const channel = `${prefix}changes`;
  const listeners = new Set<(change: Change | null) => void>();
  let subscriber: Redis | Cluster | null = null;
  let connected = false;
  let subscribedOnce = false;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  let failures = 0;
  let reportedAt = Number.NEGATIVE_INFINITY;

  const emit = (change: Change | null) => {
    for (const listener of listeners) listener(change);
  };

  /**
   * A connection of its own, connected before it subscribes (relay-wire.ts subscribe), whether or
   * not Redis answers yet. A failed attempt is reported and made again, so the feed never stays
   * unsubscribed in silence.
   */
  function start(): void {
    retry = undefined;
    const cluster = (redis as unknown as { isCluster?: boolean }).isCluster === true;
    const sub = cluster
      ? (redis as Cluster).duplicate([], { lazyConnect: true })
      : (redis as Redis).duplicate({ lazyConnect: true });
    subscriber = sub;
    const heard = (text: string) => {
      let change: Change | null = null;
      try {
        change = parseChange(JSON.parse(text));
      } catch {
        return;
      }
      if (change) emit(change);
    };
    // ioredis resubscribes on reconnect, then says `ready`: what was published meanwhile is lost.
    const state = (up: boolean) => {
      if (!up) connected = false;
      else if (subscribedOnce && !connected && subscriber === sub) {
        connected = true;
        emit(null);
      }
    };
    void subscribe(sub, channel, heard, state, (error) => {
      if (subscriber !== sub || closed) return;
      subscriber = null;
      failures++;
      const now = Date.now();
      if (failures === 1 || now - reportedAt >= REPORT_EVERY_MS) {
        reportedAt = now;
        reportSafely(
          report,
          error,
          `agentkey redisChanges: could not subscribe to ${channel} (attempt ${failures}); trying again, and caches keep their own bound meanwhile`,
        );
      }
      retry = setTimeout(start, Math.min(RETRY_MAX_MS, RETRY_MS * 2 ** Math.min(failures - 1, 10)));
      retry.unref?.();
    }).then((ok) => {
      if (!ok || subscriber !== sub) return;
      const missed = failures > 0;
      failures = 0;
      subscribedOnce = true;
      connected = true;
      // Changes published while no subscription stood were not heard: drop everything once.
      if (missed) emit(null);
    });
  }

  return {
    get connected() {
      return connected;
    },
    async publish(change: Change): Promise<void> {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`redisChanges: publish took over ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
      try {
        await Promise.race([redis.publish(channel, JSON.stringify(change)), late]);
      } finally {
        clearTimeout(timer);
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      closed = false;
      if (!subscriber && !retry) start();
      return () => {
        listeners.delete(listener);
      };
    },
    async close(): Promise<void> {
      listeners.clear();
      closed = true;
      clearTimeout(retry);
      retry = undefined;
      const sub = subscriber;
      subscriber = null;
      connected = false;
      // disconnect, not quit: a QUIT to a server that is gone would wait for it forever.
      sub?.disconnect();
    },
  };
}
