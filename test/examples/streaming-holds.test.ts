import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { runToExit, useExampleApp } from '../support/app-process.js';
import { expectOneLineExit, expectScopeRefused } from '../support/example-checks.js';

const NAME = 'streaming-holds';
const ANSWER_TOKENS = 16; // the fake model's answer, at 1¢ a token; the hold is for 20

interface Streamed {
  status: number;
  tokens: string[];
  usage: { tokens: number; cents: number } | null;
  // biome-ignore lint/suspicious/noExplicitAny: a refusal's JSON body, checked with expect
  refusal?: any;
}

/** POST /chat as an SSE client; after `hangUpAfter` tokens it aborts the request. */
async function chat(url: string, key: string, hangUpAfter = Number.POSITIVE_INFINITY): Promise<Streamed> {
  const controller = new AbortController();
  const response = await fetch(`${url}/chat`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}` },
    signal: controller.signal,
  });
  if (response.status !== 200) {
    return { status: response.status, tokens: [], usage: null, refusal: await response.json() };
  }
  const streamed: Streamed = { status: 200, tokens: [], usage: null };
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  while (streamed.tokens.length < hangUpAfter) {
    const { done, value } = await reader.read();
    if (done) return streamed;
    buffer += decoder.decode(value, { stream: true });
    const events = buffer.split('\n\n');
    buffer = events.pop()!;
    for (const event of events) {
      const data = JSON.parse(/^data: (.*)$/m.exec(event)![1]!);
      if (event.startsWith('event: usage\n')) streamed.usage = data;
      else streamed.tokens.push(data.token);
    }
  }
  controller.abort(); // hang up: the connection closes with the answer half read
  return streamed;
}

describe('examples/streaming-holds: a hold around a streamed call', () => {
  const app = useExampleApp(NAME);
  const signup = async (body: unknown) => (await app.request('POST', '/signup', { body })).body.key as string;
  /** The key's budget once no hold of it is open (a hold closes as its response ends). */
  const settled = async (key: string) => {
    for (let i = 0; i < 400; i++) {
      const { body } = await app.request('GET', '/budget', { key });
      if (body.heldCents === 0) return body as { usedCents: number; remainingCents: number };
      await sleep(25);
    }
    throw new Error('the hold is still open');
  };

  it('holds 20¢ while streaming, then charges the 16 tokens that streamed', async () => {
    const key = await signup({ budget_cents: 100 });
    const streamed = await chat(app.url, key);
    expect(streamed.tokens).toHaveLength(ANSWER_TOKENS);
    expect(streamed.tokens.join('')).toMatch(/^A hold reserves the most/);
    expect(streamed.usage).toEqual({ tokens: ANSWER_TOKENS, cents: ANSWER_TOKENS });
    expect(await settled(key)).toMatchObject({ usedCents: 16, remainingCents: 84 });
  });

  it('charges a client that hangs up mid-stream only for what it was sent, and releases the rest', async () => {
    const key = await signup({ budget_cents: 100 });
    const streamed = await chat(app.url, key, 3);
    const received = streamed.tokens.length;
    expect(received).toBeGreaterThanOrEqual(3);
    expect(received).toBeLessThan(ANSWER_TOKENS);
    const after = await settled(key);
    // What it read, and at most the one token that was on the wire as it hung up.
    expect(after.usedCents).toBeGreaterThanOrEqual(received);
    expect(after.usedCents).toBeLessThanOrEqual(received + 1);
    expect(after.remainingCents).toBe(100 - after.usedCents);
  });

  it('refuses a call whose whole hold does not fit what is left: 429 budget_exceeded', async () => {
    const key = await signup({ budget_cents: 30 });
    expect((await chat(app.url, key)).tokens).toHaveLength(ANSWER_TOKENS);
    expect(await settled(key)).toMatchObject({ usedCents: 16, remainingCents: 14 });
    const refused = await chat(app.url, key);
    expect(refused).toMatchObject({ status: 429, tokens: [], refusal: { error: 'budget_exceeded' } });
    expect(await settled(key)).toMatchObject({ usedCents: 16, remainingCents: 14 });
  });

  it('refuses a key without the chat scope, holding nothing', async () => {
    const key = await signup({ scopes: [] });
    const reply = await app.request('POST', '/chat', { key });
    expectScopeRefused(reply, 'chat');
  });

  it('will not start on a PORT that is not a port number', async () => {
    const run = await runToExit(NAME, { DATABASE_URL: app.db.url, PORT: 'eighty' });
    expectOneLineExit(run, /^streaming-holds: PORT must be a port number, not eighty\n$/);
  });
});
