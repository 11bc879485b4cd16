import { performance } from 'node:perf_hooks';

export interface Measurement {
  name: string;
  ops: number;
  seconds: number;
  perSec: number;
  p50ms: number;
  p99ms: number;
  errors: number;
}

/**
 * Runs `op` from `clients` concurrent loops for `seconds` (after a short warm-up) and reports
 * throughput and latency percentiles. `op` returns false when its outcome was not the expected one.
 */
export async function measure(
  name: string,
  clients: number,
  seconds: number,
  op: (client: number, i: number) => Promise<boolean>,
): Promise<Measurement> {
  const warmupEnd = performance.now() + Math.min(1000, seconds * 200);
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; performance.now() < warmupEnd; i++) await op(c, i);
    }),
  );
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; performance.now() < end; i++) {
        const t = performance.now();
        if (!(await op(c, i))) errors++;
        latencies.push(performance.now() - t);
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  return {
    name,
    ops: latencies.length,
    seconds: elapsed,
    perSec: latencies.length / elapsed,
    p50ms: pct(0.5),
    p99ms: pct(0.99),
    errors,
  };
}

export interface Scenario {
  name: string;
  run: (client: number, i: number) => Promise<boolean>;
  /** Called right before and right after each measurement of this scenario (its warm-up included). */
  start?: () => void;
  stop?: () => void;
}

/**
 * Runs every scenario `rounds` times, interleaved (a, b, c, a, b, c…), so that drift in the
 * machine or the database (checkpoints, autovacuum, the disk's fsync latency, which dominates on
 * a durable commit) lands on all of them alike. Every scenario, the ceiling included, reports the
 * mean of its rounds.
 */
export async function interleave(
  scenarios: Scenario[],
  clients: number,
  seconds: number,
  rounds: number,
): Promise<Measurement[]> {
  const runs = new Map<string, Measurement[]>();
  for (let r = 0; r < rounds; r++) {
    for (const s of scenarios) {
      s.start?.();
      const m = await measure(s.name, clients, seconds, s.run);
      s.stop?.();
      if (process.env.BENCH_VERBOSE) console.error(`round ${r + 1}: ${s.name}: ${m.perSec.toFixed(0)}/s`);
      runs.set(s.name, [...(runs.get(s.name) ?? []), m]);
    }
  }
  return scenarios.map((s) => {
    const ms = runs.get(s.name)!;
    const mean = (f: (m: Measurement) => number) => ms.reduce((sum, m) => sum + f(m), 0) / ms.length;
    return {
      name: s.name,
      ops: mean((m) => m.ops),
      seconds: mean((m) => m.seconds),
      perSec: mean((m) => m.perSec),
      p50ms: mean((m) => m.p50ms),
      p99ms: mean((m) => m.p99ms),
      errors: ms.reduce((sum, m) => sum + m.errors, 0),
    };
  });
}

export function table(rows: Measurement[], ceiling: Measurement, batched?: Measurement): string {
  const lines = [
    `| scenario | ops/s | p50 ms | p99 ms | ratio to ceiling |${batched ? ' ratio to (a2) |' : ''} errors |`,
    `| --- | ---: | ---: | ---: | ---: |${batched ? ' ---: |' : ''} ---: |`,
  ];
  for (const r of rows) {
    const second = batched ? ` ${(r.perSec / batched.perSec).toFixed(2)} |` : '';
    lines.push(
      `| ${r.name} | ${r.perSec.toFixed(0)} | ${r.p50ms.toFixed(2)} | ${r.p99ms.toFixed(2)} | ${(r.perSec / ceiling.perSec).toFixed(2)} |${second} ${r.errors} |`,
    );
  }
  return lines.join('\n');
}
