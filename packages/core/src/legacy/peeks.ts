import { Coalescer, type CoalescerLimits } from '../batching/coalescer.js';
import type { Lookup, StoreContext } from '../context.js';
import { AgentKeyTimeoutError } from '../db/deadline.js';
import { isDataException } from '../db/queryable.js';
import type { KeyRow } from '../keys/rows.js';
import type { Selector } from '../sql/columns.js';

/** What `validate` reads of a row; `needs_write`: it wants `touch` instead (a rolled period, a stale last_used_at). */
export type PeekedRow = KeyRow & { needs_write?: boolean };

interface PeekCall {
  value: string;
  now: Date;
  deadlineAt: number;
}

/**
 * validate's reads, coalesced as charges are: the validates of one event-loop turn, and those made
 * while `maxInFlight` reads run, share one SELECT (each row judged at its own call's clock). A
 * read takes no lock and commits nothing, so this only saves round trips: 32 concurrent validates
 * were 32 statements, one for each, beside the one batched charge of the `trackUsage` after them.
 */
export class Peeks {
  private readonly batches: Record<Selector, Coalescer<PeekCall, PeekedRow>> | null = null;

  constructor(
    private readonly ctx: StoreContext,
    batching: CoalescerLimits | null,
  ) {
    if (batching) {
      const batches = (by: Selector) =>
        new Coalescer<PeekCall, PeekedRow>((calls) => this.many(by, calls), batching, {
          // A value PostgreSQL cannot take (a subject with a NUL) fails its own call, not the batch.
          retryAlone: isDataException,
          deadlineOf: (call) => call.deadlineAt,
          expired: () => new AgentKeyTimeoutError(ctx.timeoutMs, false),
        });
      this.batches = { key_hash: batches('key_hash'), external_subject: batches('external_subject') };
    }
  }

  peek(lookup: Lookup, now: Date): Promise<PeekedRow | undefined> {
    if (!this.batches) return this.one(lookup.by, lookup.value, now);
    return this.batches[lookup.by].submit({
      value: lookup.value,
      now,
      deadlineAt: Date.now() + this.ctx.timeoutMs,
    });
  }

  private async one(by: Selector, value: string, now: Date): Promise<PeekedRow | undefined> {
    return (await this.ctx.hot(this.ctx.sql.peek(by), [value, now.toISOString()])).rows[0];
  }

  private async many(by: Selector, calls: readonly PeekCall[]): Promise<Array<PeekedRow | undefined>> {
    if (calls.length === 1) return [await this.one(by, calls[0]!.value, calls[0]!.now)];
    const { rows } = await this.ctx.hot(this.ctx.sql.peekMany(by), [
      calls.map((c) => c.value),
      calls.map((c) => c.now.toISOString()),
    ]);
    const answers: Array<PeekedRow | undefined> = new Array(calls.length).fill(undefined);
    for (const row of rows as Array<PeekedRow & { ak_ord?: number }>) {
      const at = row.ak_ord! - 1;
      delete row.ak_ord;
      answers[at] = row;
    }
    return answers;
  }
}
