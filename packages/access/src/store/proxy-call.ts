import type { Credential } from '@agentkey/core';
import { agentActor, type Caller } from '../caller.js';
import { ACCESS_CODES, type AccessRefusal, refuse } from '../errors.js';
import { checkToolId } from '../input.js';
import { checkProxyRequest, type ProxyOutcome, type ProxyRefusal, type ToolRoute } from '../proxy/index.js';
import { checkRates } from '../rate/rules.js';
import { appendAudit } from './audit.js';
import { holdCost } from './charge.js';
import { refusedWithoutGrant } from './proxy-no-grant.js';
import { liveGrant } from './requests.js';
import { readSlip, type Slip, slipGrant } from './slips.js';
import { openSecret, readTool } from './tools.js';
import type { UseDeps } from './vend.js';

/** A proxied call cleared to go: where, with what secret, and what to do with the upstream's answer. */
export interface ClearedCall {
  ok: true;
  route: ToolRoute;
  url: URL;
  secret: string;
  /** Settles the charge from the outcome and writes the audit row. */
  finish(outcome: ProxyOutcome): Promise<void>;
}

/**
 * Everything before a proxied call is forwarded: the tool, the caller's live grant (a permit slip's
 * grant and action, for a slip), the grant's methods and paths, the rate windows, the secret, and a
 * hold of the tool's cost. Charging rule: the call is charged when the upstream answered below 500;
 * an upstream 5xx, a timeout, an unreachable upstream or a refusal is released, never charged.
 */
export async function clearProxyCall(
  d: UseDeps,
  caller: Caller,
  credential: Credential,
  /** The permit slip the call came with (its token, resolved before auth), or null. */
  slip: Slip | null,
  toolId: unknown,
  method: string,
  rawPath: string,
): Promise<ClearedCall | AccessRefusal | ProxyRefusal> {
  const { ctx } = d;
  const id = checkToolId(toolId);
  if (!id.ok) return refuse('bad_request', id.message);
  const tool = await readTool(ctx, id.value);
  if (!tool) return refuse('unknown_tool', `no tool ${id.value}`);
  // A slip's child key presented as a key (a leak, or a slip minted before tokens): refused.
  if (!slip && (await readSlip(ctx, caller.id)))
    return refuse('permit_only_proxy', 'a permit slip is used with its akp_ token, never its key');
  if (slip && slip.toolId !== id.value)
    return refuse('not_permitted', `this permit slip is for ${slip.toolId}`);
  const grant = slip ? await slipGrant(ctx, slip) : await liveGrant(ctx, caller.id, id.value);
  if (!grant) return refusedWithoutGrant(d, caller, slip, tool, method, rawPath);
  const action = slip ? tool.actions[slip.action] : undefined;
  if (slip && !action) return refuse('not_permitted', `tool ${id.value} no longer has action ${slip.action}`);
  // The tool's methods are the ceiling: a grant approved before the tool was narrowed keeps no more.
  const granted = (grant.methods ?? tool.methods).filter((m) => tool.methods.includes(m));
  const route: ToolRoute = {
    toolId: tool.id,
    baseUrl: tool.baseUrl,
    secretHeader: tool.secretHeader,
    secretTemplate: tool.secretTemplate,
    methods: action ? action.methods.filter((m) => granted.includes(m)) : granted,
    pathPrefixes: action ? action.pathPrefixes : tool.pathPrefixes,
  };
  const agentId = slip ? slip.agentId : caller.id;
  const audit = (status: number, detail: Record<string, unknown>) =>
    appendAudit(ctx, {
      actor: agentActor(caller),
      action: 'proxy.called',
      toolId: tool.id,
      agentId,
      target: `grant:${grant.id}`,
      detail: { method, status, ...(slip ? { permit: `${tool.id}:${slip.action}` } : {}), ...detail },
    });

  const checked = checkProxyRequest(route, method, rawPath);
  if (!checked.ok) {
    await audit(checked.status, { code: checked.code, costCents: 0 });
    return checked;
  }
  const path = checked.url.pathname;
  // A slip counts in its parent's per-credential window: minting slips must not open fresh ones.
  const counted = slip ? { ...caller, id: slip.agentId } : caller;
  // Refused after the grant was found: audited too, so an agent hammering a tool is seen.
  const refused = async (r: AccessRefusal) => {
    await audit(ACCESS_CODES[r.code], { path, code: r.code, costCents: 0 });
    return r;
  };
  const limited = await checkRates(d.limiter, d.limits, 'proxy', counted, tool.id, grant);
  if (limited) return refused(limited);
  const opened = openSecret(ctx, tool);
  if (!opened.ok) return refused(opened);
  const held = await holdCost(ctx, d.ak, credential, grant.id, tool.costCents);
  if (!held.ok) return refused(held);
  return {
    ok: true,
    route,
    url: checked.url,
    secret: opened.secret,
    async finish(outcome) {
      // An agent that hangs up once the upstream answered below 500 is charged: the work was done.
      const charged = outcome.ok
        ? outcome.status < 500
        : outcome.code === 'aborted' && outcome.upstreamStatus !== undefined && outcome.upstreamStatus < 500;
      await held.charge.settle(charged);
      await audit(outcome.status, {
        path,
        ...(outcome.ok ? {} : { code: outcome.code }),
        costCents: charged ? held.charge.cents : 0,
        requestBytes: outcome.requestBytes,
        responseBytes: outcome.responseBytes,
      });
    },
  };
}
