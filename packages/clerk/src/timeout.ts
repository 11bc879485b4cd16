export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/**
 * Settles with `work`, or rejects with a TimeoutError after `ms`. @clerk/backend takes no
 * AbortSignal, so a late answer is dropped rather than cancelled.
 */
export function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`no answer from Clerk within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
