import {
  type AgentKey,
  AgentKeyInputError,
  type AuthError,
  type FirstSeenPolicy,
  isScope,
  type Verifier,
} from '@agentkey/core';
import type { NextFunction, Request, Response } from 'express';
import { type AuthAnswer, answerFor, serverError } from './auth-answer.js';
import { parseAuthorization, requestAuthorization } from './authorization-header.js';
import { isRealm } from './challenge.js';
import { type CostOption, checkCost, resolveCost } from './cost.js';
import { closeHoldWhenDone } from './hold.js';
import { type AgentKeyPrincipal, toAgentKeyPrincipal } from './principal.js';
import { type ProtectedResourceOption, protectedResource } from './protected-resource.js';
import { rateLimitHeaders } from './rate-headers.js';
import { consoleReporter, type ErrorReporter, report } from './report.js';
import './request.js';

export interface AgentKeyAuthOptions {
  /** The store; native `ak_` keys are checked against it, and external callers charged to their row. */
  agentKey: Pick<AgentKey, 'gate' | 'settle' | 'release'> & Partial<Pick<AgentKey, 'validScopes'>>;
  /** Verifiers for external tokens (OIDC, Auth0, Clerk…), tried in order after the native prefix. */
  verifiers?: readonly Verifier[];
  /** A scope the caller must hold (RFC 6749 scope-token). */
  scope?: string;
  /** Cents to charge per request: a number, or a function of the request (sync or async). Default 0. */
  cost?: CostOption;
  /**
   * Cents to reserve for the request (a number or a function of it): admitted only if the hold fits,
   * then settled on `res.locals.agentKeyCostCents` when the response ends (the whole hold if that is
   * unset), or released when none was declared and the client disconnects or the status is ≥ 400.
   * For calls whose cost is known only afterwards.
   */
  hold?: CostOption;
  /** First-sight policy for verifiers without their own. Unset: unknown subjects get 403 `unprovisioned`. */
  firstSeen?: FirstSeenPolicy;
  /** Namespaces several verifiers declare on purpose (one Auth0 tenant behind two domains); see GateOptions. */
  sharedNamespaces?: readonly string[];
  /** The `realm` of `WWW-Authenticate` challenges (printable ASCII). Default `api`. */
  realm?: string;
  /**
   * Publishes RFC 9728 protected-resource metadata at `/.well-known/oauth-protected-resource`
   * (plus the resource's path), answered by this middleware before any credential is read, and
   * names it in every `WWW-Authenticate` challenge (`resource_metadata="…"`), as the MCP
   * authorization spec asks of resource servers.
   */
  protectedResource?: ProtectedResourceOption;
  /**
   * The request's idempotency key (e.g. its `Idempotency-Key` header): a repeat with the same key
   * from the same caller is admitted without a second charge, and `req.agentKey.replayed` is true.
   * Return undefined for none.
   */
  idempotencyKey?: (req: Request) => string | undefined;
  /** Receives store and IdP failures (the caller gets 503) and server bugs (500). Default console.error. */
  onError?: ErrorReporter;
}

const CONTEXT = 'agentKeyAuth';
/** What core accepts as an idempotency key: a client's malformed one is its error, not ours. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

type Decision =
  | { ok: true; principal: AgentKeyPrincipal; headers: Record<string, string> }
  | { ok: false; answer: AuthAnswer };

/**
 * One middleware for native keys and every verifier: reads `Authorization: Bearer <token>`,
 * checks and charges it in one `gate.authenticate`, and either sets `req.agentKey` (an
 * `AgentKeyPrincipal`) and calls `next()`, or answers per RFC 6750. It always answers, on Express 4
 * and 5; a store or IdP that cannot answer is a 503, never a pass.
 */
export function agentKeyAuth(options: AgentKeyAuthOptions) {
  if (!options || typeof options !== 'object')
    throw new AgentKeyInputError('agentKeyAuth needs options', 'options');
  const { agentKey, verifiers, firstSeen, scope, realm = 'api', onError = consoleReporter } = options;
  if (typeof agentKey?.gate !== 'function') {
    throw new AgentKeyInputError('agentKeyAuth: agentKey must be an AgentKey', 'agentKey');
  }
  if (scope !== undefined && !isScope(scope)) {
    throw new AgentKeyInputError(
      'agentKeyAuth: scope must be 1-128 printable ASCII characters without space, quote or backslash',
      'scope',
    );
  }
  if (!isRealm(realm)) {
    throw new AgentKeyInputError('agentKeyAuth: realm must be 1-256 printable ASCII characters', 'realm');
  }
  if (typeof onError !== 'function')
    throw new AgentKeyInputError('agentKeyAuth: onError must be a function', 'onError');
  const cost = checkCost(options.cost);
  const hold = options.hold === undefined ? undefined : checkCost(options.hold, 'hold');
  const idempotencyKey = options.idempotencyKey;
  if (idempotencyKey !== undefined && typeof idempotencyKey !== 'function') {
    throw new AgentKeyInputError(
      'agentKeyAuth: idempotencyKey must be a function of the request',
      'idempotencyKey',
    );
  }
  const metadata =
    options.protectedResource === undefined
      ? undefined
      : protectedResource(options.protectedResource, verifiers ?? [], agentKey.validScopes);
  const challengeParams: Record<string, string> = metadata ? { resource_metadata: metadata.url } : {};
  // Built once: duplicate verifier ids and bad first-sight policies throw here, not per request.
  const gate = agentKey.gate({
    ...(verifiers === undefined ? {} : { verifiers }),
    ...(firstSeen === undefined ? {} : { firstSeen }),
    ...(options.sharedNamespaces === undefined ? {} : { sharedNamespaces: options.sharedNamespaces }),
  });

  const refuse = (error: AuthError): Decision => {
    if (error.code === 'unavailable') report(onError, error.cause ?? new Error(error.description), CONTEXT);
    return { ok: false, answer: answerFor(error, realm, challengeParams) };
  };

  const decide = async (req: Request): Promise<Decision> => {
    const header = requestAuthorization(req);
    if (!header.ok) return refuse(header.error);
    const parsed = parseAuthorization(header.header);
    if (!parsed.ok) return refuse(parsed.error);
    const charge = await resolveCost(cost, req);
    if (!charge.ok) {
      report(onError, charge.error, `${CONTEXT} cost`);
      return { ok: false, answer: serverError() };
    }
    let holdCents = 0;
    if (hold !== undefined) {
      const reserve = await resolveCost(hold, req, 'hold');
      if (!reserve.ok) {
        report(onError, reserve.error, `${CONTEXT} hold`);
        return { ok: false, answer: serverError() };
      }
      holdCents = reserve.cents;
    }
    const idempotent = idempotencyKey?.(req);
    if (idempotent !== undefined && !IDEMPOTENCY_KEY.test(idempotent)) {
      return refuse({
        code: 'invalid_request',
        description: 'The idempotency key must be 1-255 printable ASCII characters without space.',
      });
    }
    const result = await gate.authenticate(parsed.token, {
      ...(scope === undefined ? {} : { scope }),
      ...(idempotent === undefined ? {} : { idempotencyKey: idempotent }),
      costCents: charge.cents,
      ...(holdCents > 0 ? { holdCents } : {}),
    });
    if (!result.ok) return refuse(withoutToken(result.error, parsed.token));
    // A rate-limited key's passed call carries its window's numbers too, as the draft asks.
    const headers = result.rateLimit ? rateLimitHeaders(result.rateLimit) : {};
    return { ok: true, principal: toAgentKeyPrincipal(result), headers };
  };

  return (req: Request, res: Response, next: NextFunction): void => {
    if (metadata && (req.method === 'GET' || req.method === 'HEAD') && pathOf(req) === metadata.path) {
      // Public by design (RFC 9728 §3): how a client finds where to get a token for this API.
      res.set({ 'Cache-Control': 'max-age=300', 'Access-Control-Allow-Origin': '*' }).json(metadata.document);
      return;
    }
    decide(req)
      .then(
        (decision) => {
          if (decision.ok) {
            req.agentKey = decision.principal;
            res.set(decision.headers);
            const { hold } = decision.principal;
            // A client gone before its hold was granted gets its hold released and no handler.
            if (!hold || closeHoldWhenDone(res, hold, agentKey, onError)) next();
          } else send(res, decision.answer);
        },
        (error: unknown) => {
          // The gate returns results; reaching this is a bug. Answer anyway: Express 4 would hang.
          report(onError, error, CONTEXT);
          send(res, serverError());
        },
      )
      // Only reached if next() or the response throws: keep it from becoming an unhandled rejection.
      .catch((error: unknown) => report(onError, error, CONTEXT));
  };
}

function pathOf(req: Request): string {
  const url = req.originalUrl ?? req.url;
  const end = url.indexOf('?');
  return end < 0 ? url : url.slice(0, end);
}

function send(res: Response, answer: AuthAnswer): void {
  if (res.headersSent) return;
  res.status(answer.status).set(answer.headers).json(answer.body);
}

/** Descriptions come from verifiers we do not control: never let one carry the token back. */
function withoutToken(error: AuthError, token: string): AuthError {
  if (token.length < 8 || !error.description.includes(token)) return error;
  return { ...error, description: 'The credential was refused.' };
}
