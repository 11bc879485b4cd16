/**
 * The gateway's configuration: flags (`--port`, `--data`, `--no-dev-issuer`) and the environment
 * switches that turn on the real parts. Anything wrong is one `ConfigError` naming the flag or the
 * variable; main.ts prints its message as one line and exits non-zero.
 */

import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export interface Config {
  port: number;
  dataDir: string;
  table: string;
  devIssuer: boolean;
  databaseUrl: string | null;
  redisUrl: string | null;
  auth0: { domain: string; audience: string } | null;
  clerk: { secretKey?: string; machineSecretKey?: string } | null;
  oidc: { issuer: string; audience: string } | null;
}

const USAGE =
  'usage: npx -y pnpm@10 start -- [--port N] [--data DIR] [--no-dev-issuer]  (DATABASE_URL, REDIS_URL, AUTH0_DOMAIN/AUTH0_AUDIENCE, CLERK_SECRET_KEY/CLERK_MACHINE_SECRET_KEY, OIDC_ISSUER/OIDC_AUDIENCE switch on the real parts)';

export function readConfig(argv: readonly string[], env: NodeJS.ProcessEnv, cwd: string): Config {
  let values: { port?: string; data?: string; 'no-dev-issuer'?: boolean; help?: boolean };
  try {
    // pnpm passes the `--` through to the script on some versions: it separates nothing here.
    ({ values } = parseArgs({
      args: argv.filter((a) => a !== '--'),
      options: {
        port: { type: 'string' },
        data: { type: 'string' },
        'no-dev-issuer': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new ConfigError(`${(error as Error).message.split('\n')[0]}; ${USAGE}`);
  }
  if (values.help) throw new ConfigError(USAGE);
  const dataDir = resolve(cwd, values.data ?? (env.AGENTKEY_DATA || '.agentkey'));
  return {
    port: readPort(values.port),
    dataDir,
    table: env.AGENTKEY_TABLE || 'sdk_api_keys',
    devIssuer: !values['no-dev-issuer'],
    databaseUrl: readUrl(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    redisUrl: readUrl(env, 'REDIS_URL', ['redis:', 'rediss:']),
    auth0: pair(env, 'AUTH0_DOMAIN', 'AUTH0_AUDIENCE', (domain, audience) => ({ domain, audience })),
    clerk:
      env.CLERK_SECRET_KEY || env.CLERK_MACHINE_SECRET_KEY
        ? {
            ...(env.CLERK_SECRET_KEY ? { secretKey: env.CLERK_SECRET_KEY } : {}),
            ...(env.CLERK_MACHINE_SECRET_KEY ? { machineSecretKey: env.CLERK_MACHINE_SECRET_KEY } : {}),
          }
        : null,
    oidc: pair(env, 'OIDC_ISSUER', 'OIDC_AUDIENCE', (issuer, audience) => {
      readUrl(env, 'OIDC_ISSUER', ['https:', 'http:']);
      return { issuer, audience };
    }),
  };
}

function readPort(value: string | undefined): number {
  if (value === undefined) return 8787;
  const port = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (!(port >= 0 && port <= 65535)) {
    throw new ConfigError(
      `--port must be a whole number from 0 to 65535 (0: any free port), not ${JSON.stringify(value)}`,
    );
  }
  return port;
}

function readUrl(env: NodeJS.ProcessEnv, name: string, protocols: readonly string[]): string | null {
  const value = env[name];
  if (!value) return null;
  // Never echo the value: a database or Redis URL may carry a password.
  if (!URL.canParse(value)) throw new ConfigError(`${name} is not a URL (expected ${protocols[0]}//…)`);
  const { protocol } = new URL(value);
  if (!protocols.includes(protocol)) {
    throw new ConfigError(
      `${name} must start with ${protocols.map((p) => `${p}//`).join(' or ')}, not ${protocol}//`,
    );
  }
  return value;
}

/** Two variables that only make sense together: both or neither. */
function pair<T>(env: NodeJS.ProcessEnv, a: string, b: string, make: (a: string, b: string) => T): T | null {
  const first = env[a];
  const second = env[b];
  if (!first && !second) return null;
  if (!first) throw new ConfigError(`${b} is set but ${a} is not: set both, or neither`);
  if (!second) throw new ConfigError(`${a} is set but ${b} is not: set both, or neither`);
  return make(first, second);
}
