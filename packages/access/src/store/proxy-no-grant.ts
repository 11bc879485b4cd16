import { agentActor, type Caller } from '../caller.js';
import { type AccessRefusal, refuse } from '../errors.js';
import { checkProxyRequest } from '../proxy/index.js';
import type { WindowLimit } from '../rate/limiter.js';
import { checkRates } from '../rate/rules.js';
import { appendAudit } from './audit.js';
import type { Slip } from './slips.js';
import type { ToolRow } from './tools.js';
import type { UseDeps } from './vend.js';

/**
 * At most this many `no_grant` refusals are written per agent and tool per window: an agent
 * hammering a tool it holds no grant for is seen, and cannot grow the append-only table without
 * bound (the proxy's own rate windows come first; they are optional, this one is not).
 */
export const NO_GRANT_AUDIT: WindowLimit = { requests: 10, windowSec: 60 };

/**
 * A proxied call to a tool the caller holds no live grant for (never had one, revoked, expired, or
 * a slip whose grant is gone). Counted in the caller's and the tool's proxy windows first (a 429
 * is answered unaudited, as the window bounds it), then audited as a `proxy.called` with code
 * `no_grant` while NO_GRANT_AUDIT admits it, and refused 403.
 */
export async function refusedWithoutGrant(
  d: UseDeps,
  caller: Caller,
  slip: Slip | null,
  tool: ToolRow,
  method: string,
  rawPath: string,
): Promise<AccessRefusal> {
  const agentId = slip ? slip.agentId : caller.id;
  const counted = slip ? { ...caller, id: agentId } : caller;
  const limited = await checkRates(d.limiter, d.limits, 'proxy', counted, tool.id);
  if (limited) return limited;
  const quota = await d.limiter.hit(`access|no-grant-audit|cred:${agentId}|tool:${tool.id}`, NO_GRANT_AUDIT);
  if (quota.ok) {
    // The path as the tool's own route reads it, when it is one (a bad path is recorded without).
    const checked = checkProxyRequest(
      { ...tool, toolId: tool.id, methods: [method], pathPrefixes: ['/'] },
      method,
      rawPath,
    );
    await appendAudit(d.ctx, {
      actor: agentActor(caller),
      action: 'proxy.called',
      toolId: tool.id,
      agentId,
      target: slip ? `grant:${slip.grantId}` : `tool:${tool.id}`,
      detail: {
        method,
        status: 403,
        ...(checked.ok ? { path: checked.url.pathname } : {}),
        ...(slip ? { permit: `${tool.id}:${slip.action}` } : {}),
        code: 'no_grant',
        costCents: 0,
      },
    });
  }
  return refuse('no_grant', `no live grant for ${tool.id}`);
}
