import type { AgentKey, BudgetPeriod, CreateKeyResult } from '@agentkey/core';
import type { Request, Response } from 'express';
import { attenuate } from './attenuation.js';
import {
  bodyObject,
  bodyUnparsed,
  type Duration,
  readCents,
  readDuration,
  readPeriod,
  readScopes,
  UNPARSED_BODY,
} from './body.js';
import { guard } from './guard.js';
import type { AgentKeyRequest } from './request.js';
import type { ResolvedRoutesOptions } from './route-options.js';

interface ChildBody {
  scopes: string[] | undefined;
  budgetCents: number | undefined;
  budgetPeriod: BudgetPeriod | undefined;
  expires: Duration | undefined;
  name: string | null;
  pooled: boolean;
}

/** Reads the body's types; the name is left for the store to check. */
function parseChild(raw: unknown): { ok: true; value: ChildBody } | { ok: false; error: string } {
  const body = bodyObject(raw);
  if (!body) return { ok: false, error: 'Request body must be a JSON object' };
  const scopes = readScopes(body.scopes);
  if (!scopes.ok) return scopes;
  const budget = readCents(body.budget_cents, 'budget_cents');
  if (!budget.ok) return budget;
  const period = readPeriod(body.budget_period);
  if (!period.ok) return period;
  const expires = readDuration(body.expires_in);
  if (!expires.ok) return expires;
  if (body.pool !== undefined && body.pool !== null && body.pool !== 'parent' && body.pool !== 'own') {
    return { ok: false, error: "pool must be 'parent' or 'own'" };
  }
  return {
    ok: true,
    value: {
      scopes: scopes.value,
      budgetCents: budget.value,
      budgetPeriod: period.value,
      expires: expires.value,
      name: (body.name as string | null | undefined) ?? null,
      pooled: body.pool === 'parent',
    },
  };
}

/** `POST /sdk-keys`: the calling key mints a key in its own account, never stronger than itself. */
export function childKeyHandler(ak: Pick<AgentKey, 'create' | 'update'>, options: ResolvedRoutesOptions) {
  return guard(
    'POST /sdk-keys',
    'Failed to create key',
    options.onError,
    async (req: Request, res: Response) => {
      // The router runs agentKeyMiddleware right before this handler: req.agentKey is its validate result.
      const caller = (req as AgentKeyRequest).agentKey;
      const parsed = bodyUnparsed(req) ? { ok: false as const, error: UNPARSED_BODY } : parseChild(req.body);
      if (!parsed.ok) {
        res.status(400).json({ error: parsed.error });
        return;
      }
      const { scopes, budgetCents, budgetPeriod, expires, name, pooled } = parsed.value;
      const decision = attenuate(
        caller,
        { scopes, budgetCents, budgetPeriod, expiresInMs: expires?.ms, pooled },
        options.now(),
      );
      if (!decision.ok) {
        res.status(403).json({ error: decision.error });
        return;
      }

      const created = await ak.create({
        accountId: caller.accountId,
        userId: caller.userId,
        scopes: decision.scopes,
        budgetCents: budgetCents ?? null,
        budgetPeriod: budgetPeriod ?? null,
        expiresIn: expires?.text ?? null,
        delegatedBy: caller.userId ?? caller.accountId,
        name,
        // `pool: 'parent'`: the child draws on the caller's budget, so parent and children together
        // never pass the caller's cap (0.2.0 gave each child a fresh budget of its own).
        ...(pooled ? { poolParentId: caller.id } : {}),
      });
      res.status(201).json(await notAfterCaller(ak, created, caller.expiresAt));
    },
  );
}

/**
 * The store stamps the expiry with its own clock a moment after the check above: should that land
 * past the caller's own expiry, pull it back, so that a child never outlives its parent.
 */
async function notAfterCaller(
  ak: Pick<AgentKey, 'update'>,
  created: CreateKeyResult,
  callerExpiresAt: string | null,
): Promise<CreateKeyResult> {
  if (callerExpiresAt === null || created.expiresAt === null) return created;
  const limit = new Date(callerExpiresAt);
  if (new Date(created.expiresAt) <= limit) return created;
  await ak.update(created.id, { expiresAt: limit });
  return { ...created, expiresAt: limit.toISOString() };
}
