import type { EngineRow } from '../authorize/engine-row.js';
import { type Runner, type Statement, statement } from '../db/queryable.js';
import { FLUSH_SQL } from '../sql/requests.js';
import { BUSY } from './coalescer.js';

const FLUSH = statement(FLUSH_SQL);

/** A batch statement's row: the answer to the call at `ord` (1-based); every row carries `busy`. */
export type BatchRow = EngineRow & { ord?: number | null; busy?: number[] | null };

/** Each call's answer by position: its row, undefined (to the engine), or BUSY (next batch). */
export type Answers = Array<BatchRow | undefined | typeof BUSY>;

/**
 * Runs a batch statement (sql/charges.ts, sql/holds.ts): one parameter list per call, sent column
 * by column as arrays.
 */
export async function runBatch(
  hot: Runner,
  statement: Statement,
  params: readonly unknown[][],
): Promise<Answers> {
  const columns = params[0]!.map((_, c) => params.map((p) => p[c]));
  const rows = (await hot(statement, columns)).rows as BatchRow[];
  const out: Answers = new Array(params.length).fill(undefined);
  for (const row of rows) if (row.ord) out[row.ord - 1] = row;
  // A call a row answers was taken: it must never go round again, whatever `busy` says.
  for (const ord of rows[0]?.busy ?? []) if (out[ord - 1] === undefined) out[ord - 1] = BUSY;
  return out;
}

/**
 * runBatch, then `settled` (the statement's row locks are free). A waiting statement (`wait`)
 * commits without waiting for the disk (sql/requests.ts batchLocks): when it took a call, a
 * durable commit follows before any call is answered.
 */
export async function runDurableBatch(
  hot: Runner,
  statement: Statement,
  params: readonly unknown[][],
  wait: boolean,
  settled: () => void = () => {},
): Promise<Answers> {
  const answers = await runBatch(hot, statement, params);
  settled();
  if (wait && answers.some((a) => a !== undefined && a !== BUSY)) {
    try {
      await hot(FLUSH, []);
    } catch (cause) {
      // Never "not sent": the batch did commit, so its calls are in doubt (voided), never answered.
      throw new Error('agentkey: a batch committed, but its flush to disk was not confirmed', { cause });
    }
  }
  return answers;
}
