import { performance } from 'node:perf_hooks';
import { clerkVerifier } from '@agentkey/clerk';
import type { AgentKey } from '@agentkey/core';
import { oidcVerifier } from '@agentkey/oidc';
import { ClerkStub, tokenJson } from '../../../packages/clerk/test/support/clerk-stub.js';
import { startIdp } from '../../../packages/oidc/test/support/idp-server.js';
import { makeKey, mint, nowSec } from '../../../packages/oidc/test/support/keys.js';
import type { Scenario } from '../harness.js';
import { pick } from './core.js';

const BIG = 2_000_000_000;
const AUDIENCE = 'https://api.bench.test';
/** The Clerk verifier's cache TTL: the bound on Backend API calls depends on it. */
const CLERK_TTL_MS = 10_000;

export interface VerifierSetup {
  /** The store the core scenarios use: same table, same pool. */
  ak: AgentKey;
  /** External identities per verifier, as many as the core scenarios have keys. */
  identities: number;
  /** The scenario external identities are compared with: native authorize. */
  native: string;
}

/**
 * (d) OIDC RS256 tokens and (e) opaque Clerk M2M tokens through `gate.authenticate` with
 * costCents 1, one identity per token, rows provisioned on first sight during warm-up. The
 * identity providers are local stand-ins: a JWKS server, and a Clerk Backend API stub.
 */
export async function verifierScenarios({ ak, identities: n, native }: VerifierSetup) {
  const idp = await startIdp();
  const key = await makeKey('bench-rs256', 'RS256');
  idp.keys = [key.jwk];
  const firstSeen = { scopes: ['chat'], budgetCents: BIG };
  const oidcGate = ak.gate({
    verifiers: [
      oidcVerifier({
        issuer: idp.origin,
        audience: AUDIENCE,
        jwksUri: idp.jwksUri,
        allowInsecureIssuer: true,
        firstSeen,
      }),
    ],
  });
  const exp = nowSec() + 3600;
  const oidcTokens = await Promise.all(
    Array.from({ length: n }, (_, k) =>
      mint(key, { iss: idp.origin, aud: AUDIENCE, sub: `bench-${k}` }, { claims: { exp, scope: 'chat' } }),
    ),
  );

  const clerk = await new ClerkStub().start();
  const clerkTokens = Array.from({ length: n }, (_, k) => `mt_bench_${k}`);
  const now = Date.now();
  clerkTokens.forEach((token, k) => {
    clerk.tokens.set(token, {
      status: 200,
      token: tokenJson(now, { id: `mt_id_${k}`, subject: `mch_bench_${k}`, expiration: now + 3_600_000 }),
    });
  });
  const clerkGate = ak.gate({
    verifiers: [
      clerkVerifier({
        machineSecretKey: 'ak_bench_machine_secret',
        apiUrl: clerk.url,
        cacheTtlMs: CLERK_TTL_MS,
        firstSeen,
      }),
    ],
  });
  // Each measurement of (e) is one window: Clerk is asked at most once per identity per TTL in it.
  const windows: Array<{ seconds: number; calls: number }> = [];
  let opened = { at: 0, calls: 0 };

  const scenarios: Scenario[] = [
    {
      name: '(d) OIDC RS256 token: gate.authenticate, costCents 1',
      run: async (c, i) =>
        (await oidcGate.authenticate(oidcTokens[pick(c, i, n)]!, { scope: 'chat', costCents: 1 })).ok,
    },
    {
      name: `(e) Clerk mt_ token, ${CLERK_TTL_MS / 1000} s cache: gate.authenticate, costCents 1`,
      run: async (c, i) =>
        (await clerkGate.authenticate(clerkTokens[pick(c, i, n)]!, { scope: 'chat', costCents: 1 })).ok,
      start: () => {
        opened = { at: performance.now(), calls: clerk.verifyCalls };
      },
      stop: () => {
        windows.push({
          seconds: (performance.now() - opened.at) / 1000,
          calls: clerk.verifyCalls - opened.calls,
        });
      },
    },
  ];

  /**
   * Clerk's Backend API calls during (e), against their bound: at most one per identity per TTL in
   * each measurement window, so Σ over windows of (identities × window s / TTL + identities). The
   * cache starts cold in every window: the other scenarios run for longer than the TTL in between.
   */
  const notes = (): string[] => {
    if (windows.length === 0) return [];
    const calls = windows.reduce((sum, w) => sum + w.calls, 0);
    const seconds = windows.reduce((sum, w) => sum + w.seconds, 0);
    const bound = Math.floor(windows.reduce((sum, w) => sum + (n * w.seconds * 1000) / CLERK_TTL_MS + n, 0));
    return [
      `(e) Clerk verify calls = ${calls} in ${windows.length} windows, ${seconds.toFixed(1)} s in all ` +
        `(bound Σ ${n} identities × window s / ${CLERK_TTL_MS / 1000} s TTL + ${n} = ${bound}) ` +
        `${calls <= bound ? 'met' : 'EXCEEDED'}`,
    ];
  };

  return {
    scenarios,
    targets: [
      { label: 'd/c', scenario: scenarios[0]!.name, versus: native, min: 0.7 },
      { label: 'e/c', scenario: scenarios[1]!.name, versus: native, min: 0.7 },
    ],
    notes,
    close: async () => {
      await Promise.all([idp.close(), clerk.close()]);
    },
  };
}
