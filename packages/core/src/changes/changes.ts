import type { DescriptorCache } from '../authorize/descriptor-cache.js';
import type { Change, ChangeFeed, ChangeTarget } from './feed.js';

export type ChangeListener = (change: Change | null) => void;

/**
 * The store's side of the `changes` feed. A committed change drops this process's cached
 * descriptors at once and is published; a change another process published (or `null`: the feed
 * may have missed some) drops them here too and is handed to the gate's listeners (verifier
 * caches). Publishing is never awaited by the admin call and its failure is only reported: the
 * caches' own bound (descriptorTtlMs ≤ 1 s) holds whether or not a publication arrives.
 */
export class Changes {
  private readonly listeners = new Set<ChangeListener>();

  constructor(
    private readonly table: string,
    private readonly descriptors: DescriptorCache,
    private readonly feed: ChangeFeed | null,
    private readonly report: (error: unknown, context: string) => void,
    /** What the feed delivered, after the caches dropped it (the counter's trust, context.ts). */
    private readonly heard: ChangeListener = () => {},
  ) {
    // Held weakly: a store nobody uses any more is collected, and its subscription goes with it.
    const self = new WeakRef(this);
    const stop = feed?.subscribe((change) => {
      const live = self.deref();
      if (!live) stop?.();
      else if (change === null || change.table === table) {
        live.drop(change);
        live.heard(change);
      }
    });
  }

  /** After a change committed in this process. */
  changed(what: Change['what'], target: ChangeTarget): void {
    const change: Change = { table: this.table, what, target };
    this.drop(change);
    const { feed } = this;
    if (!feed) return;
    Promise.resolve()
      .then(() => feed.publish(change))
      .catch((error: unknown) => this.report(error, 'agentkey changes: publish failed'));
  }

  /** Listens to every change this process makes or hears of; returns the unsubscribe. */
  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private drop(change: Change | null): void {
    // Changes are rare and the cache refills in one request per row: clearing it all is enough.
    this.descriptors.clear();
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (error) {
        this.report(error, 'agentkey changes: a listener threw');
      }
    }
  }
}
