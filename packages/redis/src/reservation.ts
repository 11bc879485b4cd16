import type { CounterCall } from '@agentkey/core';
import { callKeys, type TagKeys } from './keys.js';

/** The counter's per-call bookkeeping (counter.ts), and the scripts as ioredis defines them. */

/** Where a lookup's row lives, as PostgreSQL last answered. */
export interface Place {
  account: string;
  tag: TagKeys;
  keyId: number;
  poolId: number | null;
}

export interface Reservation {
  place: Place;
  serials: [string, string, string];
}

/**
 * What an admission saw before PostgreSQL: the tag it asked (its generation key), and that tag's
 * generation and epoch ('' when Redis was not asked). SETTLE builds mirrors only while they hold.
 */
export type Seen = readonly [tag: string, generation: string, epoch: string];
export const UNSEEN: Seen = ['', '', ''];

export type Scripted = {
  akAdmit(...args: string[]): Promise<string[]>;
  akAdmitMany(...args: string[]): Promise<string[][]>;
  akSettle(...args: string[]): Promise<number>;
  akSettleMany(...args: string[]): Promise<number>;
  akAbandon(...args: string[]): Promise<number>;
  akInvalidate(...args: string[]): Promise<number>;
};

/** The KEYS and first ARGV of SETTLE and ABANDON: where, which request, how much, against which builds. */
export function reservationArgs(call: CounterCall, place: Place, serials: readonly string[]): string[] {
  return [
    ...callKeys(place.tag, place.keyId, place.poolId),
    call.rid,
    String(call.micros + call.holdMicros),
    ...serials,
  ];
}
