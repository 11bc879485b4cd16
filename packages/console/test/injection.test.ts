import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsoleApp, callerOf, pendingRequest, startConsole } from './support/console-app.js';
import { type Client, signedIn } from './support/http.js';

const EVIL = '<script>alert("pwned")</script>';
const ESCAPED = '&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;';

let c: ConsoleApp;
let client: Client;
let keyId: number;
let subjectId: number;
beforeAll(async () => {
  c = await startConsole();
  const key = await c.ak.create({ accountId: 'acct', name: EVIL, budgetCents: 100 });
  keyId = key.id;
  await c.ak.ensureSubject(`evil|${EVIL}`, { accountId: 'acct', budgetCents: 100 });
  subjectId = (await c.ak.getSubject(`evil|${EVIL}`))!.id;
  await pendingRequest(c, 'plain', 'agent-x', EVIL);
  // A tool whose name is markup, and a request for it whose reason is too.
  const human = { kind: 'human', id: 'setup' } as const;
  const defined = await c.access.defineTool(
    { id: 'evil', name: EVIL, baseUrl: 'https://example.test/', methods: ['GET'], pathPrefixes: ['/'] },
    human,
  );
  expect(defined.ok).toBe(true);
  await c.access.request(callerOf((await c.ak.getKey(keyId))!), 'evil', { reason: EVIL });
  await c.access.suggest(callerOf((await c.ak.getKey(keyId))!), {
    name: EVIL,
    url: 'https://x.test/',
    reason: EVIL,
  });
  ({ client } = await signedIn(c));
}, 60_000);
afterAll(() => c?.close());

describe('HTML injection renders as text', () => {
  it.each([
    ['a key name, on the list', () => `/keys?q=${encodeURIComponent('<script')}`],
    ['a key name, on its page', () => `/keys/${keyId}`],
    ['a subject, on its page', () => `/keys/${subjectId}`],
    ['a subject, on the list', () => '/keys?kind=subject'],
    ['a reason and a tool name, in the approval queue', () => '/approvals'],
    ['a tool name and a suggestion, on the tools page', () => '/tools'],
    ['a reason, in the audit log', () => '/audit'],
    [
      'a search term echoed into the filter form',
      () => `/keys?q=${encodeURIComponent(EVIL)}&account=${encodeURIComponent(EVIL)}`,
    ],
  ])('%s', async (_what, path) => {
    const page = await client.get(path());
    expect(page.status).toBe(200);
    expect(page.body).not.toContain(EVIL);
    expect(page.body).not.toContain('<script>alert');
    // The page that shows the value shows it escaped (the search echo only in its inputs).
    expect(page.body).toContain(ESCAPED);
  });
});
