/**
 * Runs `ops` from `workers` concurrent loops, each taking the next op when its last one ends: a
 * steady stream of concurrent callers, as a busy service has, rather than one burst of all of them.
 */
export async function inParallel<T>(ops: ReadonlyArray<() => Promise<T>>, workers: number): Promise<T[]> {
  const results: T[] = new Array(ops.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(workers, ops.length) }, async () => {
      while (next < ops.length) {
        const i = next++;
        results[i] = await ops[i]!();
      }
    }),
  );
  return results;
}
