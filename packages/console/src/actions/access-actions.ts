import type { Narrowing } from '@agentkey/access';
import type { Request, Response } from 'express';
import { type ConsoleContext, signedIn } from '../context.js';
import { html } from '../html/escape.js';
import { page } from '../html/layout.js';
import { parseId } from '../pages/key.js';

const field = (body: unknown, name: string) => {
  const v = (body as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v.trim().slice(0, 500) : '';
};

/** The approver's narrowing from the form: only the fields filled in. */
export function narrowing(body: unknown): Narrowing | string {
  const n: Narrowing = {};
  const expiresIn = field(body, 'expiresIn');
  const budget = field(body, 'budgetCents');
  const methods = field(body, 'methods');
  const note = field(body, 'note');
  if (expiresIn) n.expiresIn = expiresIn;
  if (budget) {
    if (!/^\d{1,9}(\.\d{1,4})?$/.test(budget)) return 'The budget must be a number of cents.';
    n.budgetCents = Number(budget);
  }
  if (methods)
    n.methods = methods
      .split(',')
      .map((m) => m.trim().toUpperCase())
      .filter(Boolean);
  if (note) n.note = note;
  return n;
}

/**
 * POST /requests/:id/approve | deny and /grants/:id/revoke: the access package decides (and
 * writes the audit row, the human as actor); a refusal (self-approval, not pending…) is shown.
 */
export async function accessAction(ctx: ConsoleContext, req: Request, res: Response) {
  const s = signedIn(res);
  const access = ctx.access;
  const id = parseId(req.params.id);
  if (!access || id === null) return res.status(404).type('text').send('Not found.');
  const approver = { actor: { kind: 'human' as const, id: s.actor } };
  const kind = `${req.params.what}/${req.params.decision}`;
  let result: { ok: boolean; code?: string; message?: string };
  let back = `${s.frame.base}/approvals`;
  if (kind === 'requests/approve') {
    const n = narrowing(req.body);
    if (typeof n === 'string')
      return res
        .status(400)
        .type('html')
        .send(page(s.frame, 'Not done', html`<p class="error">${n}</p>`).text);
    result = await access.approve(id, approver, n);
  } else if (kind === 'requests/deny') {
    result = await access.deny(id, approver, field(req.body, 'note') || undefined);
  } else if (kind === 'grants/revoke') {
    result = await access.revokeGrant(id, approver);
    back = `${s.frame.base}/tools`;
  } else return res.status(404).type('text').send('Not found.');
  if (!result.ok)
    return res
      .status(409)
      .type('html')
      .send(page(s.frame, 'Not done', html`<p class="error">${result.code}: ${result.message}</p>`).text);
  res.redirect(303, `${back}?done=${req.params.decision}`);
}
