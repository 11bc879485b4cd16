/** Where the store reports failures nobody awaits: pool errors, the in-doubt resolver. */
export type StoreReporter = (error: unknown, context: string) => void;

export const consoleStoreReporter: StoreReporter = (error, context) => {
  console.error(`agentkey: ${context}:`, error);
};

/** Reports without ever throwing: a broken reporter must not crash the process it protects. */
export function reportSafely(report: StoreReporter, error: unknown, context: string): void {
  try {
    report(error, context);
  } catch {
    // Nothing better to do.
  }
}

const watched = new WeakSet<object>();

/**
 * pg's Pool (and Client) emit `error` when the server drops an idle connection (a restart's
 * 57P01, a network cut). An EventEmitter with no `error` listener throws it, and the process dies.
 * One listener per pool, however many stores share it; it reports and lets the pool recover.
 */
export function watchPoolErrors(pool: unknown, report: StoreReporter): void {
  const emitter = pool as { on?: unknown } | null;
  if (!emitter || typeof emitter !== 'object' || typeof emitter.on !== 'function') return;
  if (watched.has(emitter)) return;
  watched.add(emitter);
  (emitter.on as (event: string, listener: (error: unknown) => void) => void).call(
    emitter,
    'error',
    (error) => reportSafely(report, error, 'pool error (an idle connection was lost; the pool reconnects)'),
  );
}
