/**
 * Who the gate trusts besides native keys: the dev issuer, and each IdP the environment names.
 * A verifier's bad option is one ConfigError naming the variable it came from.
 */

import { auth0Verifier } from '@agentkey/auth0';
import { clerkVerifier } from '@agentkey/clerk';
import { AgentKeyInputError, type FirstSeenPolicy, type Verifier } from '@agentkey/core';
import { oidcVerifier } from '@agentkey/oidc';
import { type Config, ConfigError } from './config.js';
import { DEV_NAMESPACE } from './dev-issuer.js';

/** First sight: a machine the gate has never seen gets a small daily budget and a rate limit. */
export const FIRST_SEEN: FirstSeenPolicy = {
  scopes: ['chat'],
  budgetCents: 25,
  budgetPeriod: 'day',
  rateLimit: { requests: 10, windowSec: 60 },
  name: 'first sight',
};

const LOOPBACK = /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\//;

/** The dev issuer's verifier: its subjects keep their namespace whatever port it runs on. */
export function devVerifier(issuer: string, resource: string): Verifier {
  return oidcVerifier({
    issuer,
    audience: resource,
    allowInsecureIssuer: true,
    subjectNamespace: DEV_NAMESPACE,
    id: 'dev-issuer',
    firstSeen: FIRST_SEEN,
  });
}

/** The IdPs the environment names, built before anything starts: a bad option fails first. */
export function externalVerifiers(config: Config): Verifier[] {
  const verifiers: Verifier[] = [];
  const named = <T>(variable: string, build: () => T): T => {
    try {
      return build();
    } catch (error) {
      if (error instanceof AgentKeyInputError) throw new ConfigError(`${variable}: ${error.message}`);
      throw error;
    }
  };
  if (config.oidc) {
    const { issuer, audience } = config.oidc;
    verifiers.push(
      named('OIDC_ISSUER', () =>
        oidcVerifier({ issuer, audience, allowInsecureIssuer: LOOPBACK.test(issuer), firstSeen: FIRST_SEEN }),
      ),
    );
  }
  if (config.auth0) {
    const { domain, audience } = config.auth0;
    verifiers.push(named('AUTH0_DOMAIN', () => auth0Verifier({ domain, audience, firstSeen: FIRST_SEEN })));
  }
  if (config.clerk) {
    const clerk = config.clerk;
    const variable = clerk.secretKey ? 'CLERK_SECRET_KEY' : 'CLERK_MACHINE_SECRET_KEY';
    verifiers.push(named(variable, () => clerkVerifier({ ...clerk, firstSeen: FIRST_SEEN })));
  }
  return verifiers;
}
