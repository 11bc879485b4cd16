import type { Request, Router } from 'express';
import type { Access } from '../access.js';
import { type Actor, agentLabel, type Caller } from '../caller.js';
import { ADMIN_SCOPE, type Approver } from '../store/decisions.js';
import { type ErrorReporter, guard, sendRefusal } from './answer.js';

const STATUSES = new Set(['pending', 'granted', 'denied', 'revoked', 'expired']);

/** An approver through the API: a human behind a credential that carries `access:admin`. */
const approverOf = (caller: Caller): Approver => ({
  actor: { kind: 'human', id: agentLabel(caller) },
  caller,
});
const actorOf = (caller: Caller): Actor => approverOf(caller).actor;

function int(value: unknown): number | undefined {
  return typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : undefined;
}
function date(value: unknown): Date | undefined | null {
  if (value === undefined) return undefined;
  const d = typeof value === 'string' ? new Date(value) : new Date(Number.NaN);
  return Number.isNaN(d.getTime()) ? null : d;
}

/**
 * The approvers' routes under `/admin`: every one needs a credential carrying `access:admin`
 * explicitly (an unrestricted key is not enough), and an agent can never decide its own request.
 */
export function adminRoutes(router: Router, access: Access, onError: ErrorReporter): void {
  const admin = (
    name: string,
    fn: (req: Request, res: Parameters<Parameters<typeof guard>[2]>[1], caller: Caller) => Promise<void>,
  ) =>
    guard(name, onError, async (req, res, caller) => {
      if (caller.scopes === null || !caller.scopes.includes(ADMIN_SCOPE)) {
        return sendRefusal(res, { code: 'not_admin', message: `this route needs the ${ADMIN_SCOPE} scope` });
      }
      await fn(req, res, caller);
    });

  router.put(
    '/admin/tools/:id',
    admin('PUT /admin/tools/:id', async (req, res, caller) => {
      const done = await access.defineTool({ ...(req.body ?? {}), id: req.params.id }, actorOf(caller));
      if (!done.ok) return sendRefusal(res, done);
      res.json({ tool: done.tool });
    }),
  );

  router.put(
    '/admin/tools/:id/secret',
    admin('PUT /admin/tools/:id/secret', async (req, res, caller) => {
      const done = await access.setSecret(String(req.params.id), req.body?.secret, actorOf(caller));
      if (!done.ok) return sendRefusal(res, done);
      res.json({ version: done.version });
    }),
  );

  router.get(
    '/admin/requests',
    admin('GET /admin/requests', async (req, res) => {
      const status = req.query.status;
      if (status !== undefined && (typeof status !== 'string' || !STATUSES.has(status))) {
        return sendRefusal(res, {
          code: 'bad_request',
          message: `status must be one of ${[...STATUSES].join(', ')}`,
        });
      }
      res.json({ requests: await access.listRequests(status ? { status: status as 'pending' } : {}) });
    }),
  );

  for (const verb of ['approve', 'deny'] as const) {
    router.post(
      `/admin/requests/:id/${verb}`,
      admin(`POST /admin/requests/:id/${verb}`, async (req, res, caller) => {
        const body = (req.body ?? {}) as Record<string, unknown>;
        const done =
          verb === 'approve'
            ? await access.approve(req.params.id, approverOf(caller), body)
            : await access.deny(req.params.id, approverOf(caller), body.note as string | undefined);
        if (!done.ok) return sendRefusal(res, done);
        const { ok: _, ...answer } = done;
        res.json(answer);
      }),
    );
  }

  router.post(
    '/admin/grants/:id/revoke',
    admin('POST /admin/grants/:id/revoke', async (req, res, caller) => {
      const done = await access.revokeGrant(req.params.id, approverOf(caller));
      if (!done.ok) return sendRefusal(res, done);
      res.json({ grant: done.grant });
    }),
  );

  router.get(
    '/admin/audit',
    admin('GET /admin/audit', async (req, res) => {
      const q = req.query;
      const from = date(q.from);
      const to = date(q.to);
      const bad = (field: string) =>
        sendRefusal(res, { code: 'bad_request', message: `${field} is not valid` });
      if (q.agentId !== undefined && int(q.agentId) === undefined) return bad('agentId');
      if (q.afterId !== undefined && int(q.afterId) === undefined) return bad('afterId');
      if (q.limit !== undefined && int(q.limit) === undefined) return bad('limit');
      if (q.toolId !== undefined && typeof q.toolId !== 'string') return bad('toolId');
      if (from === null) return bad('from');
      if (to === null) return bad('to');
      const rows = await access.audit({
        ...(q.agentId === undefined ? {} : { agentId: int(q.agentId)! }),
        ...(q.toolId === undefined ? {} : { toolId: q.toolId as string }),
        ...(from ? { from } : {}),
        ...(to ? { to } : {}),
        ...(q.afterId === undefined ? {} : { afterId: int(q.afterId)! }),
        ...(q.limit === undefined ? {} : { limit: int(q.limit)! }),
      });
      res.json({ audit: rows });
    }),
  );

  router.get(
    '/admin/suggestions',
    admin('GET /admin/suggestions', async (_req, res) => {
      res.json({ suggestions: await access.listSuggestions() });
    }),
  );
}
