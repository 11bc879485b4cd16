import { randomBytes } from 'node:crypto';
import {
  AgentKeyInputError,
  type BudgetPeriod,
  type CreateKeyOptions,
  isScope,
  MAX_BUDGET_CENTS,
  PERIODS,
  parseDuration,
} from '@agentkey/core';
import type { Request, Response } from 'express';
import { cookie } from '../auth.js';
import { type ConsoleContext, type SignedIn, signedIn } from '../context.js';
import { html, type SafeHtml } from '../html/escape.js';
import { csrfField, type Frame, page } from '../html/layout.js';
import { parseCookies } from '../session.js';
import { appendConsoleAudit } from '../sql/audit.js';

/** The form's fields, as typed (trimmed): what the confirmation is bound to. */
export type CreateFields = Record<
  'name' | 'account' | 'scopes' | 'budgetCents' | 'budgetPeriod' | 'expiresIn',
  string
>;
const FIELDS = ['name', 'account', 'scopes', 'budgetCents', 'budgetPeriod', 'expiresIn'] as const;
export const EMPTY_FIELDS: CreateFields = {
  name: '',
  account: '',
  scopes: '',
  budgetCents: '',
  budgetPeriod: '',
  expiresIn: '',
};

/** The new key's secret on its way to the one page that shows it: encrypted, two minutes, this session only. */
const SECRET_COOKIE = 'akc_new_key';
const SECRET_TTL_SEC = 120;
/** A confirmation is good for a day, and makes at most one key (a once-only marker in the rate table). */
const CONFIRM_TTL_MS = 86_400_000;

const text = (body: unknown, name: string) => {
  const v = (body as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v.trim().slice(0, 2000) : '';
};

/** The form as core's create() options, or every reason it cannot be, checked by core's own rules. */
export function parseCreate(f: CreateFields): { options: CreateKeyOptions; errors: string[] } {
  const errors: string[] = [];
  if (!/^[\x20-\x7e]{1,512}$/.test(f.account)) errors.push('Account: 1-512 printable ASCII characters.');
  if (f.name === '' || f.name.length > 200 || /[\u0000-\u001f\u007f-\u009f]/.test(f.name))
    errors.push('Name: 1-200 characters, no control characters.');
  const scopes = f.scopes === '' ? null : [...new Set(f.scopes.split(/[\s,]+/).filter(Boolean))];
  const bad = (scopes ?? []).filter((s) => !isScope(s));
  if (bad.length > 0)
    errors.push(
      `Scopes: ${bad.join(', ')} ${bad.length === 1 ? 'is' : 'are'} not a scope (1-128 printable characters, no quote or backslash).`,
    );
  if (scopes && scopes.length > 256) errors.push('Scopes: at most 256.');
  if (f.budgetCents !== '' && (!/^\d{1,10}$/.test(f.budgetCents) || Number(f.budgetCents) > MAX_BUDGET_CENTS))
    errors.push(`Budget: whole cents from 0 to ${MAX_BUDGET_CENTS}, or empty for no cap.`);
  if (f.budgetPeriod !== '' && !PERIODS.includes(f.budgetPeriod as BudgetPeriod))
    errors.push(`Period: ${PERIODS.join(', ')}, or empty for a budget that never resets.`);
  if (f.budgetPeriod !== '' && f.budgetCents === '') errors.push('Period: a period needs a budget.');
  if (f.expiresIn !== '') {
    try {
      parseDuration(f.expiresIn);
    } catch (error) {
      errors.push(`Expires in: ${(error as Error).message} (e.g. 90m, 24h, 30d, 6mo; empty for never).`);
    }
  }
  const options: CreateKeyOptions = {
    accountId: f.account,
    name: f.name,
    scopes,
    budgetCents: f.budgetCents === '' ? null : Number(f.budgetCents),
    budgetPeriod: (f.budgetPeriod || null) as BudgetPeriod | null,
    expiresIn: f.expiresIn || null,
  };
  return { options, errors };
}

export function createForm(frame: Frame, f: CreateFields, errors: string[] = []): SafeHtml {
  const opt = (v: string, label: string) =>
    html`<option value="${v}"${f.budgetPeriod === v ? html` selected` : ''}>${label}</option>`;
  return html`${errors.length ? html`<ul class="error" role="alert">${errors.map((e) => html`<li>${e}</li>`)}</ul>` : ''}
<form method="post" action="${frame.base}/keys/new" class="create-key">
  ${csrfField(frame)}
  <label>Name <input name="name" value="${f.name}" required maxlength="200"></label>
  <label>Account <input name="account" value="${f.account}" required maxlength="512"></label>
  <label>Scopes <input name="scopes" value="${f.scopes}" placeholder="chat, search (empty: unrestricted)"></label>
  <label>Budget (¢) <input name="budgetCents" value="${f.budgetCents}" inputmode="numeric" placeholder="empty: no cap"></label>
  <label>Period <select name="budgetPeriod">${opt('', 'none')}${PERIODS.map((p) => opt(p, p))}</select></label>
  <label>Expires in <input name="expiresIn" value="${f.expiresIn}" placeholder="30d (empty: never)"></label>
  <button type="submit">Create key…</button>
</form>`;
}

function describe(o: CreateKeyOptions): string {
  const scopes = o.scopes ? o.scopes.join(', ') : 'unrestricted (any scope)';
  const budget =
    o.budgetCents === null ? 'no cap' : `${o.budgetCents}¢${o.budgetPeriod ? ` a ${o.budgetPeriod}` : ''}`;
  const expiry = o.expiresIn ? `expires in ${o.expiresIn}` : 'never expires';
  return `Create the key "${o.name}" in account ${o.accountId}: scopes ${scopes}; budget ${budget}; ${expiry}. Its secret is shown once, on the next page.`;
}

const answer = (res: Response, s: SignedIn, status: number, title: string, body: SafeHtml) =>
  res
    .status(status)
    .type('html')
    .send(page(s.frame, title, body).text);

/**
 * POST /keys/new. The first post checks the form and answers a confirmation bound (HMAC) to this
 * session, the exact fields and a one-time nonce; the second makes the key, once, and redirects
 * to the page that shows its secret. The secret never rides in a URL, a log or an audit row.
 */
export async function createKeyAction(ctx: ConsoleContext, req: Request, res: Response) {
  const s = signedIn(res);
  const fields = Object.fromEntries(FIELDS.map((k) => [k, text(req.body, k)])) as CreateFields;
  const { options, errors } = parseCreate(fields);
  if (errors.length > 0) return answer(res, s, 400, 'New key', createForm(s.frame, fields, errors));
  const once = text(req.body, 'once');
  const at = text(req.body, 'at');
  const bound = { ...fields, once, at };
  const confirmed =
    /^[\w-]{22}$/.test(once) &&
    /^\d{1,15}$/.test(at) &&
    ctx.signer.same(req.body?.confirm, ctx.signer.confirm(s.session, 'create', 'new', bound));
  if (!confirmed) {
    const fresh = { ...fields, once: randomBytes(16).toString('base64url'), at: String(ctx.now().getTime()) };
    const token = ctx.signer.confirm(s.session, 'create', 'new', fresh);
    return answer(
      res,
      s,
      200,
      'Confirm',
      html`<p class="confirm-text">${describe(options)}</p>
<form method="post" action="${s.frame.base}/keys/new" class="confirm">
  ${csrfField(s.frame)}
  ${Object.entries(fresh).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}
  <input type="hidden" name="confirm" value="${token}">
  <button type="submit" name="go" value="yes">Confirm</button>
  <a href="${s.frame.base}/keys">Cancel</a>
</form>`,
    );
  }
  const age = ctx.now().getTime() - Number(at);
  if (age < 0 || age > CONFIRM_TTL_MS)
    return answer(
      res,
      s,
      400,
      'New key',
      createForm(s.frame, fields, ['This confirmation expired: confirm again.']),
    );
  const first = await ctx.ak.rateLimitHit(`console:create:${once}`, { requests: 1, windowSec: 86_400 });
  if (!first.ok)
    return answer(
      res,
      s,
      409,
      'Already done',
      html`<p class="error">This confirmation already made its key; a key is made once per confirmation. See <a href="${s.frame.base}/keys">the keys</a>.</p>`,
    );
  let made: Awaited<ReturnType<typeof ctx.ak.create>>;
  try {
    made = await ctx.ak.create(options, { actor: s.actor });
  } catch (error) {
    if (!(error instanceof AgentKeyInputError)) throw error;
    return answer(res, s, 400, 'New key', createForm(s.frame, fields, [error.message]));
  }
  if (ctx.access)
    await appendConsoleAudit(ctx.pool, ctx.t, ctx.now(), {
      actor: s.actor,
      action: 'console.key.create',
      agentId: made.id,
      target: `key:${made.id}`,
      detail: { ...fields, expiresAt: made.expiresAt },
    });
  const sealed = ctx.signer.encrypt(
    'new-key',
    { i: made.id, k: made.key, n: s.session.nonce },
    ctx.now().getTime() + SECRET_TTL_SEC * 1000,
  );
  res.setHeader('Set-Cookie', cookie(ctx, req, SECRET_COOKIE, sealed, SECRET_TTL_SEC));
  res.redirect(303, `${s.frame.base}/keys/${made.id}/secret`);
}

/** GET /keys/:id/secret: the new key's secret, once, to the session that made it; then never again. */
export async function secretPage(ctx: ConsoleContext, req: Request, res: Response) {
  const s = signedIn(res);
  const id = Number(req.params.id);
  const flash = ctx.signer.decrypt(
    'new-key',
    parseCookies(req.headers.cookie).get(SECRET_COOKIE),
    ctx.now().getTime(),
  );
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Set-Cookie', cookie(ctx, req, SECRET_COOKIE, '', 0));
  const link = html`<a href="${s.frame.base}/keys/${id}">the key's page</a>`;
  const mine = flash !== null && flash.i === id && flash.n === s.session.nonce && typeof flash.k === 'string';
  // The cookie's clearing is only a request to the browser: a kept copy, or a second tab racing the
  // first, would show the secret again, so the showing is spent once (a marker in the rate table).
  const first =
    mine && (await ctx.ak.rateLimitHit(`console:secret:${id}`, { requests: 1, windowSec: 86_400 })).ok;
  if (!first)
    return answer(
      res,
      s,
      410,
      'Secret gone',
      html`<p class="secret-gone">The secret is shown once, right after the key is made, and is not stored: it cannot be shown again. Revoke the key and make another if it was lost. See ${link}.</p>`,
    );
  return answer(
    res,
    s,
    200,
    'New key',
    html`<p>Key #${id} is made. Copy its secret now: it is shown this once and stored only as a hash.</p>
<p><code class="secret" data-secret>${flash!.k as string}</code></p>
<p>Then go to ${link}.</p>`,
  );
}
