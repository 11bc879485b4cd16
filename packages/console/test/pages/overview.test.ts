import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsoleApp, startConsole } from '../support/console-app.js';
import { type Client, signedIn } from '../support/http.js';

let c: ConsoleApp;
let client: Client;
beforeAll(async () => {
  c = await startConsole();
  ({ client } = await signedIn(c));
});
afterAll(() => c.close());

/** The refusals table's rows as text: code, API calls, tool calls. */
const refusalRows = (body: string) => {
  const section = /<h2>Refusals by code[\s\S]*?<\/section>/.exec(body)![0];
  return [...section.matchAll(/<tr><td>([^<]*)<\/td><td>([^<]*)<\/td><td>([^<]*)<\/td><\/tr>/g)].map((m) =>
    m.slice(1),
  );
};

describe('the overview', () => {
  it("shows the main API's refusals by code from core's tally, beside refused tool calls", async () => {
    const { key } = await c.ak.create({ accountId: 'acct', name: 'spent', budgetCents: 1 });
    for (let i = 0; i < 3; i++) await c.ak.authorize({ key }, { costCents: 5 });
    await c.ak.authorize('nobody');
    await c.ak.close();
    // A proxied tool call refused for its rate, as @agentkey/access records it; and one of 2 days ago.
    for (const at of ['now()', "now() - interval '2 days'"])
      await c.db.pool.query(
        `INSERT INTO ${c.db.table}_access_audit (at, actor_kind, actor, action, detail)
         VALUES (${at}, 'agent', 'key:1', 'proxy.called', '{"status": 429, "code": "rate_limited"}')`,
      );
    const page = await client.get('/');
    expect(page.status).toBe(200);
    expect(refusalRows(page.body)).toEqual([
      ['budget_exceeded', '3', '0'],
      ['invalid_token', '1', '0'],
      ['rate_limited', '0', '1'],
    ]);
    expect(page.body).toMatch(/data-stat="as-of">[^<]*as of \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
  });
});
