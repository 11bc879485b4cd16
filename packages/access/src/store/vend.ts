import type { Credential } from '@agentkey/core';
import { agentActor, type Caller } from '../caller.js';
import type { AccessContext } from '../context.js';
import { type AccessResult, refuse } from '../errors.js';
import { checkToolId } from '../input.js';
import type { RateLimiter } from '../rate/limiter.js';
import { checkRates, type RateLimits } from '../rate/rules.js';
import { appendAudit } from './audit.js';
import { type Charging, holdCost } from './charge.js';
import { liveGrant } from './requests.js';
import { readSlip } from './slips.js';
import { openSecret, readTool } from './tools.js';

export interface Vended {
  toolId: string;
  /** The header to send upstream and its value, the secret filled in. */
  header: string;
  value: string;
  secret: string;
  chargedCents: number;
}

export interface UseDeps {
  ctx: AccessContext;
  ak: Charging;
  limiter: RateLimiter;
  limits: RateLimits;
}

/**
 * `GET /tools/:id/credentials`: the tool's secret for this call only, to an agent holding a live
 * grant (never to a permit slip: slips work through the proxy alone). Counted against the rate
 * windows, charged the tool's cost, audited without the secret.
 */
export async function vend(
  d: UseDeps,
  caller: Caller,
  credential: Credential,
  toolId: unknown,
): Promise<AccessResult<{ vended: Vended }>> {
  const { ctx } = d;
  const id = checkToolId(toolId);
  if (!id.ok) return refuse('bad_request', id.message);
  const tool = await readTool(ctx, id.value);
  if (!tool) return refuse('unknown_tool', `no tool ${id.value}`);
  if (await readSlip(ctx, caller.id))
    return refuse('permit_only_proxy', 'a permit slip works only through the proxy');
  const grant = await liveGrant(ctx, caller.id, id.value);
  if (!grant) return refuse('no_grant', `you hold no grant for ${id.value}: request it first`);
  const limited = await checkRates(d.limiter, d.limits, 'vend', caller, id.value, grant);
  if (limited) return limited;
  const opened = openSecret(ctx, tool);
  if (!opened.ok) return opened;
  const held = await holdCost(ctx, d.ak, credential, grant.id, tool.costCents);
  if (!held.ok) return held;
  await held.charge.settle(true);
  await appendAudit(ctx, {
    actor: agentActor(caller),
    action: 'credential.vended',
    toolId: id.value,
    agentId: caller.id,
    target: `grant:${grant.id}`,
    detail: { costCents: held.charge.cents },
  });
  return {
    ok: true,
    vended: {
      toolId: id.value,
      header: tool.secretHeader,
      value: tool.secretTemplate.replace('{secret}', opened.secret),
      secret: opened.secret,
      chargedCents: held.charge.cents,
    },
  };
}
