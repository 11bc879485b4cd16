import type { AgentKey, BudgetPeriod, CreateKeyResult } from '@agentkey/core';
import type { Request, Response } from 'express';
import { attenuate, type CallerBudget, refusals } from './attenuation.js';
import { authorizationLines } from './authorization-header.js';
import { bearerToken } from './bearer.js';
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
import { type ErrorReporter, report } from './report.js';
import type { AgentKeyRequest } from './request.js';
import type { ResolvedRoutesOptions } from './route-options.js';

interface ChildBody {
  scopes: string[] | undefined;
  budgetCents: number | undefined;
  budgetPeriod: BudgetPeriod | undefined;
  expires: Duration | undefined;
  name: string | null;
  pool: 'parent' | 'own' | undefined;
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
      pool: (body.pool ?? undefined) as ChildBody['pool'],
    },
  };
}

/** The store calls minting a child needs. */
export type ChildKeyStore = Pick<AgentKey, 'create' | 'update' | 'getKey' | 'reserve' | 'release'>;

type Refusal = { status: number; body: Record<string, unknown> };

/** The caller's pool and the pool root's budget: what the validate result does not say. */
async function callerBudget(ak: ChildKeyStore, id: number): Promise<CallerBudget | null> {
  const self = await ak.getKey(id);
  if (!self) return null;
  if (self.poolParentId === null) return { poolParentId: null, pool: null };
  const root = await ak.getKey(self.poolParentId);
  return {
    poolParentId: self.poolParentId,
    // A vanished root refuses every charge of its children: treat it as a spent pool.
    pool: root
      ? { budgetCents: root.budget.limitCents, budgetPeriod: root.budget.period }
      : { budgetCents: 0, budgetPeriod: null },
  };
}

/**
 * Whether `cents` fits what the caller has left right now: its cap (and its pool's and account's)
 * minus what they spent and hold this period. Asked of the engine itself, as a one-second hold
 * released at once, so the rule is the one every charge meets. Only an early, clear 403: the pool
 * the child is minted on is what keeps concurrent mints from adding up past the cap.
 */
async function fitsWhatIsLeft(
  ak: ChildKeyStore,
  token: string,
  cents: number,
  onError: ErrorReporter,
): Promise<Refusal | null> {
  const probe = await ak.reserve(token, { maxCents: cents, ttl: 1000 });
  if (probe.ok) {
    if (probe.hold) {
      const released = await ak.release(probe.hold.id);
      // Not fatal: the hold stops counting within a second anyway.
      if (!released.ok) report(onError, new Error(released.error.description), 'POST /sdk-keys release');
    }
    return null;
  }
  const { error } = probe;
  if (error.code === 'budget_exceeded') {
    return { status: 403, body: { error: refusals.remaining(error.description) } };
  }
  if (error.code === 'invalid_token') {
    // Revoked or expired since the middleware let it through: as the middleware would answer.
    const reason = error.reason === 'revoked' || error.reason === 'expired' ? error.reason : 'invalid';
    return { status: 401, body: { error: reason } };
  }
  throw error.cause ?? new Error(error.description);
}

/** `POST /sdk-keys`: the calling key mints a key in its own account, never stronger than itself. */
export function childKeyHandler(ak: ChildKeyStore, options: ResolvedRoutesOptions) {
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
      const { scopes, budgetCents, budgetPeriod, expires, name, pool } = parsed.value;
      const budget = await callerBudget(ak, caller.id);
      if (!budget) {
        res.status(401).json({ error: 'invalid' });
        return;
      }
      const decision = attenuate(
        caller,
        budget,
        { scopes, budgetCents, budgetPeriod, expiresInMs: expires?.ms, pool },
        options.now(),
      );
      if (!decision.ok) {
        res.status(403).json({ error: decision.error });
        return;
      }
      if (decision.pooled && budgetCents !== undefined && budgetCents > 0) {
        const token = bearerToken(authorizationLines(req)[0]);
        const refusal = await fitsWhatIsLeft(ak, token ?? '', budgetCents, options.onError);
        if (refusal) {
          res.status(refusal.status).json(refusal.body);
          return;
        }
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
        // On the caller's pool (its root's, when the caller is pooled): parent and children together
        // never pass the caller's cap. 0.2.0 gave each child a fresh budget of its own.
        ...(decision.pooled ? { poolParentId: caller.id } : {}),
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
