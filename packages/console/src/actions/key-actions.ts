import { AgentKeyInputError, type BudgetPeriod, type KeyInfo } from '@agentkey/core';
import type { Request, Response } from 'express';
import { type ConsoleContext, type SignedIn, signedIn } from '../context.js';
import { html } from '../html/escape.js';
import { csrfField, money, page } from '../html/layout.js';
import { notFound, parseId } from '../pages/key.js';
import { appendConsoleAudit } from '../sql/audit.js';

/** One change to a key or subject: its parameters (what the confirmation is bound to), in words, and the call. */
interface Planned {
  params: Record<string, string>;
  describe: string;
  run: (ctx: ConsoleContext, key: KeyInfo, actor: string) => Promise<boolean>;
}

const field = (body: unknown, name: string) => {
  const v = (body as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v.trim().slice(0, 500) : '';
};
const CENTS = /^\d{1,9}$/;
const PERIODS = ['day', 'week', 'month'];

/** The change a form asks for, or the one reason it cannot be made. */
export function plan(action: string, body: unknown, key: KeyInfo): Planned | string {
  const label = `#${key.id} (${key.subject ?? key.name})`;
  switch (action) {
    case 'revoke':
      return {
        params: {},
        describe: `Revoke ${label}: every call with it is refused from now on. This cannot be undone.`,
        run: (ctx, k, actor) => ctx.ak.revoke(k.id, null, { actor }),
      };
    case 'topup': {
      const cents = field(body, 'cents');
      if (!CENTS.test(cents) || Number(cents) === 0) return 'Cents to add must be a whole number above 0.';
      if (key.budget.limitCents === null) return 'This row has no cap to top up: set a budget instead.';
      return {
        params: { cents },
        describe: `Top up ${label} by ${cents}¢: its cap goes from ${money(key.budget.limitCents)} to ${money(key.budget.limitCents + Number(cents))}.`,
        run: (ctx, k, actor) => ctx.ak.topUp({ keyId: k.id }, Number(cents), { actor }),
      };
    }
    case 'budget': {
      const cents = field(body, 'cents');
      const period = field(body, 'period');
      if (cents !== '' && !CENTS.test(cents))
        return 'The cap must be a whole number of cents, or empty for none.';
      if (period !== '' && !PERIODS.includes(period)) return 'The period must be day, week, month or none.';
      return {
        params: { cents, period },
        describe: `Set the budget of ${label} to ${cents === '' ? 'no cap' : `${cents}¢`}${period ? ` a ${period}` : ''}.`,
        run: (ctx, k, actor) =>
          ctx.ak.setBudget(
            { keyId: k.id },
            {
              budgetCents: cents === '' ? null : Number(cents),
              budgetPeriod: (period || null) as BudgetPeriod | null,
            },
            { actor },
          ),
      };
    }
    case 'scopes': {
      const list = field(body, 'scopes')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const scopes = [...new Set(list)].join(',');
      return {
        params: { scopes },
        describe: `Set the scopes of ${label} to ${scopes === '' ? 'unrestricted (any scope)' : scopes}.`,
        run: async (ctx, k, actor) =>
          (await ctx.ak.update(k.id, { scopes: scopes === '' ? null : scopes.split(',') }, { actor })) !==
          null,
      };
    }
    case 'expiry': {
      const expiresIn = field(body, 'expiresIn');
      if (expiresIn !== '' && !/^\d{1,6}(ms|s|m|h|d|w)$/.test(expiresIn))
        return 'Expires in must look like 24h or 30d, or be empty for never.';
      return {
        params: { expiresIn },
        describe: `Make ${label} ${expiresIn === '' ? 'never expire' : `expire in ${expiresIn}`}.`,
        run: async (ctx, k, actor) =>
          (await ctx.ak.update(k.id, { expiresIn: expiresIn === '' ? null : expiresIn }, { actor })) !== null,
      };
    }
    default:
      return 'Unknown action.';
  }
}

function confirmPage(res: Response, s: SignedIn, key: KeyInfo, action: string, p: Planned, token: string) {
  const f = s.frame;
  res.type('html').send(
    page(
      f,
      'Confirm',
      html`<p class="confirm-text">${p.describe}</p>
<form method="post" action="${f.base}/keys/${key.id}/${action}" class="confirm">
  ${csrfField(f)}
  ${Object.entries(p.params).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}
  <input type="hidden" name="confirm" value="${token}">
  <button type="submit" name="go" value="yes">Confirm</button>
  <a href="${f.base}/keys/${key.id}">Cancel</a>
</form>`,
    ).text,
  );
}

/**
 * POST /keys/:id/:action. The first post answers a confirmation page; only a second post carrying
 * the confirm token (an HMAC of this session, the action, the row and the exact parameters) makes
 * the change, so a change cannot skip the step or swap its parameters after confirming.
 */
export async function keyAction(ctx: ConsoleContext, req: Request, res: Response) {
  const s = signedIn(res);
  const id = parseId(req.params.id);
  const key = id === null ? null : await ctx.ak.getKey(id);
  if (!key) return notFound(res, s.frame, 'No such key or subject.');
  const action = String(req.params.action);
  const planned = plan(action, req.body, key);
  if (typeof planned === 'string')
    return res
      .status(400)
      .type('html')
      .send(page(s.frame, 'Not done', html`<p class="error">${planned}</p>`).text);
  const token = ctx.signer.confirm(s.session, action, String(key.id), planned.params);
  if (!ctx.signer.same(req.body?.confirm, token)) return confirmPage(res, s, key, action, planned, token);
  let done: boolean;
  try {
    done = await planned.run(ctx, key, s.actor);
  } catch (error) {
    if (!(error instanceof AgentKeyInputError)) throw error;
    return res
      .status(400)
      .type('html')
      .send(page(s.frame, 'Not done', html`<p class="error">${error.message}</p>`).text);
  }
  if (done && ctx.access)
    await appendConsoleAudit(ctx.pool, ctx.t, ctx.now(), {
      actor: s.actor,
      action: `console.key.${action}`,
      agentId: key.id,
      target: `key:${key.id}`,
      detail: planned.params,
    });
  res.redirect(303, `${s.frame.base}/keys/${key.id}?done=${done ? action : 'nothing'}`);
}
