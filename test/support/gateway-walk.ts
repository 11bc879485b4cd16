import { expect } from 'vitest';
import { type Gateway, jsonLines, runStep } from './gateway.js';

/**
 * Every step a gateway's banner prints, run through bash as a reader pastes it, each checked
 * against what the admin route (the key's counter and its ledger) says was charged.
 */

type Budget = { usedCents: number; heldCents: number; limitCents: number | null };

export async function get(gw: Gateway, path: string, key: string) {
  const res = await fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The key as the admin route reads it: its counter and what the ledger says it spent. */
export async function adminKey(gw: Gateway, id: number) {
  const { status, body } = await get(gw, `/admin/keys/${id}`, gw.admin.key);
  expect(status).toBe(200);
  return body as { budget: Budget; ledgerCents: number; revokedAt: string | null };
}

/** What a walk leaves behind, for the restart to find. */
export interface Walked {
  demoId: number;
  used: number;
  subjectId: number;
  subjectUsed: number;
  secret: string | undefined;
  admin: string;
}

export async function walkBanner(gw: Gateway): Promise<Walked> {
  const seen = {} as Walked;
  // 1. The native key: 20 tokens at 0.1¢.
  const [first] = jsonLines(await runStep(gw.step('Call the model with the native key')));
  expect(first).toMatchObject({ tokens: 20, charged_cents: 2, replayed: false });

  // 2. The budget fell by what step 1 charged.
  const [me] = jsonLines(await runStep(gw.step('Watch the budget fall')));
  expect(me).toMatchObject({
    kind: 'key',
    id: gw.demo.id,
    budget: { usedCents: 2, heldCents: 0, limitCents: 50 },
  });

  // 3. A stream cut off after 3 tokens: its 6¢ hold is released, only what streamed is charged.
  const streamed = await runStep(gw.step('Stream a call and cut it off'));
  const received = streamed.split('\n').filter((l) => l.startsWith('data: ')).length;
  expect(received).toBe(3);
  let after = await adminKey(gw, gw.demo.id);
  for (let i = 0; i < 200 && after.budget.heldCents !== 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    after = await adminKey(gw, gw.demo.id);
  }
  expect(after.budget.heldCents).toBe(0);
  const tokens = Math.round((after.budget.usedCents - 2) / 0.1);
  expect(after.budget.usedCents).toBeCloseTo(2 + tokens * 0.1, 6);
  expect(tokens).toBeGreaterThanOrEqual(received);
  expect(tokens).toBeLessThan(60); // never the whole hold
  expect(after.ledgerCents).toBeCloseTo(after.budget.usedCents, 6);

  // 4. The same Idempotency-Key twice: charged once.
  const [once, again] = jsonLines(await runStep(gw.step('Retry a call with the same Idempotency-Key')));
  expect(once).toMatchObject({ charged_cents: 2, replayed: false });
  expect(again).toMatchObject({ text: once!.text, replayed: true });
  const afterRetry = await adminKey(gw, gw.demo.id);
  expect(afterRetry.budget.usedCents).toBeCloseTo(after.budget.usedCents + 2, 6);
  expect(afterRetry.ledgerCents).toBeCloseTo(afterRetry.budget.usedCents, 6);

  // 5. Past the cap: 429 with Retry-After (the day's reset), nothing charged.
  const cap = await runStep(gw.step('Ask for more than the budget'));
  expect(cap).toMatch(/^HTTP\/1\.1 429 /);
  expect(cap).toMatch(/\r\nRetry-After: \d+\r\n/);
  expect(cap).toContain('"error":"budget_exceeded"');
  expect((await adminKey(gw, gw.demo.id)).budget.usedCents).toBe(afterRetry.budget.usedCents);

  // 6. A machine token from the built-in issuer: first sight provisions the subject.
  const [call, subject] = jsonLines(await runStep(gw.step('Get a machine token')));
  expect(call).toMatchObject({ charged_cents: 2 });
  expect(subject).toMatchObject({
    kind: 'subject',
    subject: 'dev-issuer|demo-agent',
    via: 'dev-issuer',
    budget: { usedCents: 2, limitCents: 25 },
  });

  // 7. The rate limit: 429 rate_limited with Retry-After.
  const rate = await runStep(gw.step('Hit the rate limit'));
  expect(rate.split('\n')[0]).toMatch(/^(200 )*(429 )+$/);
  expect(rate).toMatch(/HTTP\/1\.1 429 [\s\S]*\r\nRetry-After: \d+\r\n[\s\S]*"error":"rate_limited"/);

  // 8. Revoked: 401.
  const revoke = await runStep(gw.step('Revoke the demo key'));
  expect(revoke).toContain(`{"id":${gw.demo.id},"revoked":true}`);
  expect(revoke).toMatch(/HTTP\/1\.1 401 [\s\S]*error="invalid_token"[\s\S]*"error":"invalid_token"/);

  const final = await adminKey(gw, gw.demo.id);
  expect(final.revokedAt).not.toBeNull();
  seen.demoId = gw.demo.id;
  seen.admin = gw.admin.key;
  seen.used = final.budget.usedCents;
  seen.subjectId = subject!.id as number;
  seen.subjectUsed = (subject!.budget as Budget).usedCents;
  seen.secret = /-u '(demo-agent:[^']+)'/.exec(gw.step('Get a machine token').commands[0]!)?.[1];
  return seen;
}

/** A restart on the same data: the keys, the subject and the spend a walk left are all there. */
export async function checkRestart(gw: Gateway, seen: Walked): Promise<void> {
  expect(gw.demo.id).not.toBe(seen.demoId); // a fresh secret: the old one was shown once
  expect(gw.banner).toContain('1 demo key(s) from earlier runs are in this database');
  const old = await adminKey(gw, seen.demoId);
  expect(old.budget.usedCents).toBe(seen.used);
  expect(old.ledgerCents).toBeCloseTo(seen.used, 6);
  expect(old.revokedAt).not.toBeNull();
  // The issuer's client secret survived; so did the subject first sight made, and its spend.
  const tokenStep = gw.step('Get a machine token');
  expect(tokenStep.commands[0]).toContain(`-u '${seen.secret}'`);
  const [call, subject] = jsonLines(await runStep(tokenStep));
  expect(call).toMatchObject({ charged_cents: 2 });
  expect(subject).toMatchObject({ id: seen.subjectId, budget: { usedCents: seen.subjectUsed + 2 } });
  // The last run's admin key no longer works; a demo key never could.
  expect((await get(gw, `/admin/keys/${seen.demoId}`, seen.admin)).status).toBe(401);
  expect((await get(gw, `/admin/keys/${seen.demoId}`, gw.demo.key)).status).toBe(403);
}
