import type { AgentKey, BudgetPeriod, ValidateResult } from '@agentkey/core';
import type { Request, Response } from 'express';
import { attenuate, type CallerBudget, refusals } from './attenuation.js';
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

/** The store calls minting a child needs: reads only, then the create. */
export type ChildKeyStore = Pick<AgentKey, 'create' | 'getKey' | 'getAccount'>;

type Refusal = { status: number; body: Record<string, unknown> };

/** What the caller can still spend right now, and which limit says so. */
interface Left {
  cents: number;
  of: string;
}

type Caller = { ok: true; budget: CallerBudget; left: Left | null } | { ok: false; refusal: Refusal };

/**
 * The caller's pool, the pool root's budget (what the validate result does not say) and what the
 * caller has left: the least of its own, its pool root's and its account's remaining, each as a new
 * call could use it (the cap less what is used this period and what open holds reserve, the pooled
 * children's included). Read only: the check holds nothing and writes no ledger row, so it can
 * neither block a sibling's charge nor leave anything counting when a reply is lost. It is only the
 * early, clear 403; the pool the child is minted on is what keeps concurrent mints within the cap.
 */
async function readCaller(ak: ChildKeyStore, caller: ValidateResult, now: Date): Promise<Caller> {
  const [self, account] = await Promise.all([ak.getKey(caller.id), ak.getAccount(caller.accountId)]);
  if (!self) return { ok: false, refusal: { status: 401, body: { error: 'invalid' } } };
  // Revoked or expired since the middleware let it through: as the middleware would answer.
  if (self.revokedAt) return { ok: false, refusal: { status: 401, body: { error: 'revoked' } } };
  if (self.expiresAt && self.expiresAt <= now) {
    return { ok: false, refusal: { status: 401, body: { error: 'expired' } } };
  }
  const root = self.poolParentId === null ? null : await ak.getKey(self.poolParentId);
  const limits: Array<[number | null, string]> = [
    [self.budget.remainingCents, 'Your key'],
    // A vanished root refuses every charge of its children: a spent pool.
    [self.poolParentId === null ? null : (root?.budget.remainingCents ?? 0), "Your key's pool"],
    [account?.remainingCents ?? null, 'Your account'],
  ];
  let left: Left | null = null;
  for (const [cents, of] of limits)
    if (cents !== null && (left === null || cents < left.cents)) left = { cents, of };
  return {
    ok: true,
    left,
    budget: {
      poolParentId: self.poolParentId,
      pool:
        self.poolParentId === null
          ? null
          : root
            ? { budgetCents: root.budget.limitCents, budgetPeriod: root.budget.period }
            : { budgetCents: 0, budgetPeriod: null },
    },
  };
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
      const read = await readCaller(ak, caller, options.now());
      if (!read.ok) {
        res.status(read.refusal.status).json(read.refusal.body);
        return;
      }
      const decision = attenuate(
        caller,
        read.budget,
        { scopes, budgetCents, budgetPeriod, expiresInMs: expires?.ms, pool },
        options.now(),
      );
      if (!decision.ok) {
        res.status(403).json({ error: decision.error });
        return;
      }
      const { left } = read;
      if (
        decision.pooled &&
        budgetCents !== undefined &&
        budgetCents > 0 &&
        left &&
        budgetCents > left.cents
      ) {
        res.status(403).json({ error: refusals.remaining(`${left.of} has ${left.cents} cents left.`) });
        return;
      }

      // The store's clock stamps the expiry a moment after the check above: capped at the caller's
      // own in the same INSERT, a child never outlives its parent.
      const notAfter = caller.expiresAt === null ? null : new Date(caller.expiresAt);
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
        notAfter,
      });
      res.status(201).json(created);
    },
  );
}
