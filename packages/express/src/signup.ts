import { randomBytes } from 'node:crypto';
import type { AgentKey, CreateKeyOptions } from '@agentkey/core';
import type { Request, Response } from 'express';
import {
  bodyObject,
  bodyUnparsed,
  readCents,
  readDuration,
  readEmail,
  readPeriod,
  readScopes,
  UNPARSED_BODY,
} from './body.js';
import { clientKey } from './client-address.js';
import { guard } from './guard.js';
import { windowHeaders } from './rate-headers.js';
import { signupLimiter, signupWindowSec } from './rate-limit.js';
import type { ResolvedRoutesOptions } from './route-options.js';

type Parsed = { ok: true; create: CreateKeyOptions } | { ok: false; body: Record<string, unknown> };

/** Validates a signup body against the configured caps; nothing here touches the store. */
export function parseSignup(rawBody: unknown, options: ResolvedRoutesOptions): Parsed {
  const refuse = (error: string, extra: Record<string, unknown> = {}): Parsed => ({
    ok: false,
    body: { error, ...extra },
  });
  const body = bodyObject(rawBody);
  if (!body) return refuse('Request body must be a JSON object');

  const email = readEmail(body.email);
  if (!email.ok) return refuse(email.error);
  if (email.value === undefined && options.requireEmailForSignup) return refuse('Valid email is required');

  const scopes = readScopes(body.scopes);
  if (!scopes.ok) return refuse(scopes.error);
  const granted = scopes.value ?? [...options.signupScopes];
  const disallowed = granted.filter((s) => !options.signupScopes.includes(s));
  if (disallowed.length > 0) {
    return refuse(`Scopes not allowed on signup: ${disallowed.join(', ')}`, {
      allowed: options.signupScopes,
    });
  }

  const budget = readCents(body.budget_cents, 'budget_cents');
  if (!budget.ok) return refuse(budget.error);
  if (budget.value !== undefined && budget.value > options.signupMaxBudgetCents) {
    return refuse(`budget_cents must not exceed ${options.signupMaxBudgetCents} on signup`);
  }

  const period = readPeriod(body.budget_period);
  if (!period.ok) return refuse(period.error);

  const expires = readDuration(body.expires_in);
  if (!expires.ok) return refuse(expires.error);
  if (expires.value && expires.value.ms > options.signupMaxExpiresMs) {
    return refuse('expires_in is longer than signup allows');
  }

  return {
    ok: true,
    create: {
      // A fresh account per anonymous signup: anonymous callers never share keys or budgets.
      accountId: email.value ?? `anon_${randomBytes(16).toString('hex')}`,
      scopes: granted,
      // Never unlimited: no budget asked for means the signup cap.
      budgetCents: budget.value ?? options.signupMaxBudgetCents,
      budgetPeriod: period.value ?? null,
      expiresIn: expires.value?.text ?? options.signupDefaultExpiresIn,
      name: (body.name as string | null | undefined) ?? null,
    },
  };
}

/** `POST /signup`: unauthenticated; rate-limited per client address, then capped. */
export function signupHandler(ak: Pick<AgentKey, 'create' | 'rateLimitHit'>, options: ResolvedRoutesOptions) {
  const limiter = signupLimiter(ak, options.signupRateLimit);
  return guard(
    'POST /signup',
    'Failed to create key',
    options.onError,
    async (req: Request, res: Response) => {
      const decision = await limiter(clientKey(req.ip));
      if (!decision.ok) {
        res.set('Retry-After', String(decision.retryAfterSec));
        // The draft's fields, as on a key's 429: this client's window is spent until it resets.
        res.set(
          windowHeaders('signup-requests', {
            kind: 'requests',
            limit: options.signupRateLimit.max,
            windowSec: signupWindowSec(options.signupRateLimit),
            remaining: 0,
            resetSec: decision.retryAfterSec,
          }),
        );
        res.status(429).json({ error: 'too_many_signups' });
        return;
      }
      if (bodyUnparsed(req)) {
        res.status(400).json({ error: UNPARSED_BODY });
        return;
      }
      const parsed = parseSignup(req.body, options);
      if (!parsed.ok) {
        res.status(400).json(parsed.body);
        return;
      }
      res.status(201).json(await ak.create(parsed.create));
    },
  );
}
