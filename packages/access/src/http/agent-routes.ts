import type { Router } from 'express';
import type { Access } from '../access.js';
import type { Caller } from '../caller.js';
import type { RateKind } from '../rate/rules.js';
import { readSlip } from '../store/slips.js';
import { credentialOf, type ErrorReporter, guard, sendRefusal } from './answer.js';

type Res = Parameters<Parameters<typeof guard>[2]>[1];

/**
 * The agent's routes: the catalog with its status, suggestions, requests, vend and permit slips.
 * A permit slip is refused here (it works only through the proxy); each route counts in its
 * rate windows before it does anything else.
 */
export function agentRoutes(router: Router, access: Access, onError: ErrorReporter): void {
  const { ctx } = access.internals;
  const admitted = async (res: Res, caller: Caller, kind: RateKind, toolId?: string) => {
    if (await readSlip(ctx, caller.id)) {
      sendRefusal(res, { code: 'permit_only_proxy', message: 'a permit slip works only through the proxy' });
      return false;
    }
    const limited = await access.rate(kind, caller, toolId);
    if (limited) sendRefusal(res, limited);
    return !limited;
  };

  router.get(
    '/tools',
    guard('GET /tools', onError, async (_req, res, caller) => {
      if (!(await admitted(res, caller, 'read'))) return;
      const tools = await access.toolsFor(caller);
      res.json({ tools });
    }),
  );

  router.post(
    '/tools/suggest',
    guard('POST /tools/suggest', onError, async (req, res, caller) => {
      if (!(await admitted(res, caller, 'request'))) return;
      const done = await access.suggest(caller, req.body);
      if (!done.ok) return sendRefusal(res, done);
      const s = done.suggestion;
      res
        .status(201)
        .json({ suggestion: s, summary: `${s.agents} agent${s.agents === 1 ? '' : 's'} want ${s.name}` });
    }),
  );

  router.post(
    '/tools/:id/request',
    guard('POST /tools/:id/request', onError, async (req, res, caller) => {
      const toolId = String(req.params.id);
      if (!(await admitted(res, caller, 'request', toolId))) return;
      const done = await access.request(caller, req.params.id, req.body);
      if (!done.ok) return sendRefusal(res, done);
      res.status(201).json({ request: done.request });
    }),
  );

  router.get(
    '/tools/:id/credentials',
    guard('GET /tools/:id/credentials', onError, async (req, res, caller) => {
      // This answer is the secret for this call only: no cache may keep it.
      res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
      const credential = credentialOf(req, caller);
      if (!credential) return sendRefusal(res, { code: 'not_permitted', message: 'no bearer credential' });
      const done = await access.vend(caller, credential, req.params.id);
      if (!done.ok) return sendRefusal(res, done);
      const v = done.vended;
      res.json({
        tool: v.toolId,
        secret: v.secret,
        header: v.header,
        value: v.value,
        chargedCents: v.chargedCents,
      });
    }),
  );

  router.post(
    '/permits',
    guard('POST /permits', onError, async (req, res, caller) => {
      if (!(await admitted(res, caller, 'request'))) return;
      const body = (req.body ?? {}) as Record<string, unknown>;
      const done = await access.mintPermit(caller, body.action, {
        ...(body.ttl === undefined ? {} : { ttl: body.ttl as string }),
        ...(body.budgetCents === undefined ? {} : { budgetCents: body.budgetCents as number }),
      });
      if (!done.ok) return sendRefusal(res, done);
      res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
      res.status(201).json({ permit: done.permit });
    }),
  );

  router.delete(
    '/permits/:id',
    guard('DELETE /permits/:id', onError, async (req, res, caller) => {
      const done = await access.revokePermit(caller, req.params.id);
      if (!done.ok) return sendRefusal(res, done);
      res.json({ revoked: done.revoked });
    }),
  );
}
