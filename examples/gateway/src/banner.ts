/**
 * What a start prints: where everything is, the keys this run minted, and numbered steps of
 * copy-pasteable commands with the real port and keys. Each step is a title line `N. …` and
 * its commands indented by two spaces (test/gateway/ runs them through a shell).
 */

import { DEMO_KEY, type MintedKeys } from './demo-keys.js';
import type { DevIssuer } from './dev-issuer.js';
import { CENTS_PER_TOKEN } from './model.js';
import { FIRST_SEEN } from './verifiers.js';

export interface BannerFacts {
  url: string;
  /** The console's address, and whether its access pages (approvals, tools, audit) are on. */
  console: { url: string; access: boolean };
  database: string;
  redis: string | null;
  verifiers: readonly string[];
  devIssuer: DevIssuer | null;
  keys: MintedKeys;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function banner({
  url,
  console: ui,
  database,
  redis,
  verifiers,
  devIssuer,
  keys,
}: BannerFacts): string {
  const auth = (key: string) => `-H ${q(`Authorization: Bearer ${key}`)}`;
  const demo = auth(keys.demo.key);
  const json = `-H 'Content-Type: application/json'`;
  const complete = (body: object, extra = '') =>
    `curl -s -w '\\n' ${url}/v1/complete ${demo} ${json}${extra} -d ${q(JSON.stringify(body))}`;
  const me = `curl -s -w '\\n' ${url}/v1/me ${demo}`;
  const rate = DEMO_KEY.rateLimit!;
  const steps: Array<[string, string[]]> = [
    [
      `Call the model with the native key (${CENTS_PER_TOKEN}¢ a token; 20 tokens unless you ask for max_tokens):`,
      [complete({ prompt: 'hello' })],
    ],
    ['Watch the budget fall (used, held, remaining, in cents):', [me]],
    [
      'Stream a call and cut it off after 3 tokens: its hold (6¢) is released and only the tokens that streamed are charged:',
      [
        `curl -sN ${url}/v1/complete ${demo} ${json} -d ${q(JSON.stringify({ prompt: 'tell me a story', max_tokens: 60, stream: true }))} | head -n 6`,
        me,
      ],
    ],
    [
      'Retry a call with the same Idempotency-Key: charged once (the second answer says "replayed": true):',
      [
        complete({ prompt: 'once' }, ` -H 'Idempotency-Key: demo-retry-1'`),
        complete({ prompt: 'once' }, ` -H 'Idempotency-Key: demo-retry-1'`),
      ],
    ],
    [
      `Ask for more than the budget (${DEMO_KEY.budgetCents}¢ a day) has left: 429 budget_exceeded, Retry-After = seconds to the reset:`,
      [
        `curl -si ${url}/v1/complete ${demo} ${json} -d ${q(JSON.stringify({ prompt: 'a novel', max_tokens: 1000 }))}`,
      ],
    ],
  ];
  if (devIssuer) {
    const token = `curl -s -u ${q(`${devIssuer.clientId}:${devIssuer.clientSecret}`)} -d grant_type=client_credentials -d scope=chat ${devIssuer.issuer}/token`;
    steps.push([
      `Get a machine token from the built-in OIDC issuer and call with it: first sight provisions it (${FIRST_SEEN.budgetCents}¢ a day, ${FIRST_SEEN.rateLimit?.requests} calls a minute):`,
      [
        `TOKEN=$(${token} | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).access_token')`,
        `curl -s -w '\\n' ${url}/v1/complete -H "Authorization: Bearer $TOKEN" ${json} -d '{"prompt":"hello"}'`,
        `curl -s -w '\\n' ${url}/v1/me -H "Authorization: Bearer $TOKEN"`,
      ],
    ]);
  }
  steps.push(
    [
      `Hit the rate limit (${rate.requests} calls a minute): 429 rate_limited, with Retry-After and RateLimit headers:`,
      [
        `for i in $(seq 1 ${(rate.requests ?? 10) + 1}); do curl -s -o /dev/null -w '%{http_code} ' ${url}/v1/me ${demo}; done; echo`,
        `curl -si ${url}/v1/me ${demo}`,
      ],
    ],
    [
      `Revoke the demo key (or from another terminal: npx -y pnpm@10 -s agentkey keys revoke ${keys.demo.id}), then call with it: 401 invalid_token:`,
      [
        `curl -s -w '\\n' -X POST ${url}/admin/keys/${keys.demo.id}/revoke ${auth(keys.admin.key)}`,
        `curl -si ${url}/v1/me ${demo}`,
      ],
    ],
  );

  const lines = [
    `agentkey gateway listening on ${url}`,
    `  database:  ${database}`,
    `  redis:     ${redis ?? 'off (set REDIS_URL for a write-through counter)'}`,
    `  verifiers: native ak_ keys, ${verifiers.join(', ') || 'no external issuer'}`,
    ...(devIssuer
      ? [
          `  dev OIDC issuer: ${devIssuer.issuer} (client ${devIssuer.clientId}; key and secret in ${devIssuer.secretsFile})`,
        ]
      : []),
    `  OAuth/MCP clients: ${url}/.well-known/oauth-protected-resource`,
    `  console:   ${ui.url} (sign in with the admin key below${ui.access ? '' : '; set AGENTKEY_SECRET_KEYS for approvals and the audit log'})`,
    '',
    'Minted for this run (a secret is shown once: restart for fresh ones; earlier keys keep their budgets):',
    `  demo key  #${keys.demo.id}: ${keys.demo.key}  (scope chat, ${DEMO_KEY.budgetCents}¢ a day, ${rate.requests} calls a minute)`,
    `  admin key #${keys.admin.id}: ${keys.admin.key}  (scope admin; earlier admin keys are revoked at each start)`,
    ...(keys.earlier > 0 ? [`  ${keys.earlier} demo key(s) from earlier runs are in this database`] : []),
    '',
    'Try it (each command copies and pastes as is):',
    '',
  ];
  steps.forEach(([title, commands], i) => {
    lines.push(`${i + 1}. ${title}`, ...commands.map((c) => `  ${c}`), '');
  });
  lines.push('Stop with Ctrl-C. Start again on the same folder to find the same keys and spend.');
  return lines.join('\n');
}
