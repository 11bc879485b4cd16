import type { AgentKey, AuthCode, Credential } from '@agentkey/core';
import type { AccessContext } from '../context.js';
import { type AccessCode, type AccessRefusal, refuse } from '../errors.js';
import { toMicros } from '../input.js';
import { chargeGrant, refundGrant } from './requests.js';

/** How long a call's cost is held: no proxied call may run longer (http/routes.ts checks it). */
export const HOLD_TTL_MS = 5 * 60_000;
const HOLD_TTL = '5m';

export type Charging = Pick<AgentKey, 'authorize' | 'reserve' | 'settle' | 'release' | 'validate'>;

/** The store's refusal of a charge as an access code: its budget, its rate, its store, else its right. */
export function chargeCode(code: AuthCode): AccessCode {
  if (code === 'budget_exceeded' || code === 'rate_limited' || code === 'unavailable') return code;
  return 'not_permitted';
}

/** A call's charge in flight: settled from the upstream answer, or released. */
export interface OpenCharge {
  cents: number;
  settle(charged: boolean): Promise<void>;
}

/**
 * Reserves a call's cost on the grant's budget and on the agent's own (a hold, which counts against
 * every cap of the agent, its pool and its account at once). `settle(true)` charges it,
 * `settle(false)` gives both back. A free tool costs no round trip.
 */
export async function holdCost(
  ctx: AccessContext,
  ak: Charging,
  credential: Credential,
  grantId: number,
  cents: number | null,
): Promise<{ ok: true; charge: OpenCharge } | AccessRefusal> {
  if (cents === null || cents === 0) return { ok: true, charge: { cents: 0, settle: async () => {} } };
  const micros = toMicros(cents);
  if (!(await chargeGrant(ctx, grantId, micros))) {
    return refuse('budget_exceeded', 'this grant has spent its budget');
  }
  const held = await ak.reserve(credential, { maxCents: cents, ttl: HOLD_TTL });
  if (!held.ok) {
    await refundGrant(ctx, grantId, micros);
    return refuse(chargeCode(held.error.code), held.error.description, held.error.retryAfterSec);
  }
  const hold = held.hold!;
  return {
    ok: true,
    charge: {
      cents,
      async settle(charged) {
        if (charged) {
          await ak.settle(hold.id, { costCents: cents });
        } else {
          await ak.release(hold.id);
          await refundGrant(ctx, grantId, micros);
        }
      },
    },
  };
}
