import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentKey } from '@agentkey/core';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactsDir, browserAvailability, launch } from './support/browser.js';
import { auditRows, type ConsoleApp, pendingRequest, startConsole } from './support/console-app.js';

const available = browserAvailability();
if (!available.run) console.warn(`packages/console/test/browser.test.ts ${available.reason}`);

const HOUR = 3_600_000;

describe.runIf(available.run)('the console in a real headless chromium', () => {
  let c: ConsoleApp;
  let browser: Awaited<ReturnType<typeof launch>>;
  let page: Page;
  let workerId: number;
  let requests: Array<{ requestId: number }>;
  const shots = artifactsDir();
  const shot = (name: string) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    c = await startConsole();
    // A key that spent at three different hours: charged through a store whose clock is set back.
    const worker = await c.ak.create({
      accountId: 'agents',
      name: 'report-writer',
      scopes: ['chat'],
      budgetCents: 1000,
    });
    workerId = worker.id;
    let clock = new Date(Date.now() - 5 * HOUR);
    const past = new AgentKey({ pool: c.db.pool, tableName: c.db.table, now: () => clock });
    for (const [hoursAgo, cents] of [
      [5, 40],
      [3, 120],
      [1, 75],
    ] as const) {
      clock = new Date(Date.now() - hoursAgo * HOUR);
      const charged = await past.authorize(worker.key, { costCents: cents });
      expect(charged.ok).toBe(true);
    }
    await c.ak.setAccountBudget('agents', { budgetCents: 5000, budgetPeriod: 'month' });
    requests = [
      await pendingRequest(c, 'github', 'triage-bot', 'Read the issues to sort them'),
      await pendingRequest(c, 'github', 'deploy-bot', 'Push to main'),
    ];
    browser = await launch();
    page = await browser.context.newPage();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await c?.close();
  });

  it('an unsigned visit lands on sign-in; the admin key signs in to the overview', async () => {
    await page.goto(`${c.url}/`);
    expect(new URL(page.url()).pathname).toBe('/agentkey/signin');
    await shot('signin');
    await page.fill('input[name="key"]', c.admin.key);
    await page.click('button[type="submit"]');
    await page.waitForURL(`${c.url}/`);
    expect(await page.textContent('[data-stat="period"]')).toBe('235¢');
    expect(await page.textContent('main')).toContain('report-writer');
    await shot('overview');
    const rows = await auditRows(c);
    expect(rows.at(-1)).toMatchObject({ action: 'console.signin', actor: { kind: 'human' } });
  });

  it('finds the key by searching and sees its spend chart drawn with its three points', async () => {
    await page.click('nav >> text=Keys & subjects');
    await page.fill('input[name="q"]', 'report');
    await page.click('form.filters button[type="submit"]');
    await shot('keys');
    await page.click(`a[href="/agentkey/keys/${workerId}"]`);
    await page.waitForSelector('#spend-chart[data-rendered] canvas');
    expect(await page.getAttribute('#spend-chart', 'data-rendered')).toBe('3');
    const box = (await page.locator('#spend-chart .u-over').boundingBox())!;
    expect(box.width).toBeGreaterThan(100);
    // Hovering the plot shows a tooltip naming a time and an amount.
    await page.mouse.move(box.x + box.width - 2, box.y + box.height / 2);
    await page.waitForSelector('.chart-tip:not([hidden])');
    expect(await page.textContent('.chart-tip')).toMatch(/UTC: \d+¢/);
    expect(await page.textContent('.gauge figcaption')).toBe('used 235¢, held 0¢, left 765¢ of 1000¢');
    await shot('key');
  });

  it('tops the key up after confirming, and the database and audit log say so', async () => {
    await page.fill('form[data-action="topup"] input[name="cents"]', '50');
    await page.click('form[data-action="topup"] button');
    expect(await page.textContent('.confirm-text')).toContain('from 1000¢ to 1050¢');
    await shot('confirm');
    expect((await c.ak.getKey(workerId))!.budget.limitCents).toBe(1000);
    await page.click('form.confirm button[value="yes"]');
    await page.waitForURL(/done=topup/);
    expect((await c.ak.getKey(workerId))!.budget.limitCents).toBe(1050);
    expect((await auditRows(c)).at(-1)).toMatchObject({ action: 'console.key.topup', agentId: workerId });
  });

  it('revokes the key after confirming', async () => {
    await page.click('form[data-action="revoke"] button');
    await page.click('form.confirm button[value="yes"]');
    await page.waitForURL(/done=revoke/);
    expect(await page.textContent('[data-field="status"]')).toMatch(/^revoked/);
    expect((await c.ak.getKey(workerId))!.revokedAt).not.toBeNull();
    expect((await auditRows(c)).at(-1)).toMatchObject({ action: 'console.key.revoke', agentId: workerId });
  });

  it('creates a key from the keys page, reads its secret once, and a reload shows it no more', async () => {
    await page.click('nav >> text=Keys & subjects');
    await page.click('details.new-key summary');
    await page.fill('form.create-key input[name="name"]', 'made-in-browser');
    await page.fill('form.create-key input[name="account"]', 'agents');
    await page.fill('form.create-key input[name="scopes"]', 'chat');
    await page.fill('form.create-key input[name="budgetCents"]', '300');
    await page.selectOption('form.create-key select[name="budgetPeriod"]', 'day');
    await page.fill('form.create-key input[name="expiresIn"]', '7d');
    await page.click('form.create-key button');
    expect(await page.textContent('.confirm-text')).toContain(
      'Create the key "made-in-browser" in account agents',
    );
    await page.click('form.confirm button[value="yes"]');
    await page.waitForURL(/\/keys\/\d+\/secret$/);
    const id = Number(/\/keys\/(\d+)\/secret$/.exec(page.url())![1]);
    const secret = (await page.textContent('code.secret'))!;
    expect(secret).toMatch(/^ak_/);
    await shot('new-key');
    // The row is the form's, and the secret is its key.
    expect(await c.ak.validate(secret)).toMatchObject({ valid: true, id });
    expect(await c.ak.getKey(id)).toMatchObject({
      name: 'made-in-browser',
      accountId: 'agents',
      scopes: ['chat'],
      budget: { limitCents: 300, period: 'day' },
    });
    const audit = await auditRows(c);
    expect(audit.at(-1)).toMatchObject({
      action: 'console.key.create',
      agentId: id,
      actor: { kind: 'human', id: `console:alice#${c.admin.id}` },
    });
    expect(JSON.stringify(audit)).not.toContain(secret);
    await page.reload();
    expect(await page.locator('code.secret').count()).toBe(0);
    expect(await page.textContent('main')).toContain('cannot be shown again');
    expect(await page.content()).not.toContain(secret);
    await page.goto(`${c.url}/keys/${id}`);
    expect(await page.content()).not.toContain(secret);
  });

  it('approves one access request with a narrowed budget and denies the other', async () => {
    await page.click('nav >> text=Approvals');
    expect(await page.textContent('main')).toContain('Read the issues to sort them');
    await shot('approvals');
    const [approve, deny] = requests as [{ requestId: number }, { requestId: number }];
    await page.fill(`form.approve[data-request="${approve.requestId}"] input[name="budgetCents"]`, '100');
    await page.click(`form.approve[data-request="${approve.requestId}"] button`);
    await page.waitForURL(/done=approve/);
    const granted = await c.access.listRequests({ status: 'granted' });
    expect(granted.map((g) => [g.id, g.budgetCents])).toEqual([[approve.requestId, 100]]);
    const approved = (await auditRows(c)).filter((r) => r.action === 'request.approved');
    expect(approved.at(-1)).toMatchObject({ actor: { kind: 'human', id: `console:alice#${c.admin.id}` } });

    await page.fill(`form.deny[data-request="${deny.requestId}"] input[name="note"]`, 'not to main');
    await page.click(`form.deny[data-request="${deny.requestId}"] button`);
    await page.waitForURL(/done=deny/);
    const denied = await c.access.listRequests({ status: 'denied' });
    expect(denied.map((d) => [d.id, d.note])).toEqual([[deny.requestId, 'not to main']]);
    expect((await auditRows(c)).at(-1)).toMatchObject({ action: 'request.denied', actor: { kind: 'human' } });
    expect(await page.textContent('main')).toContain('No request is waiting.');
  });

  it('shows accounts, tools and grants, and the audit log of all of it', async () => {
    for (const [nav, name, expected] of [
      ['Accounts', 'accounts', 'agents'],
      ['Tools & grants', 'tools', 'github'],
      ['Audit log', 'audit', 'console.key.revoke'],
    ] as const) {
      await page.click(`nav >> text=${nav}`);
      expect(await page.textContent('main')).toContain(expected);
      await shot(name);
    }
    // The README's two pictures, refreshed on request (each run's differ: keys, times).
    if (process.env.UPDATE_CONSOLE_DOCS)
      for (const name of ['overview', 'key'])
        copyFileSync(join(shots, `${name}.png`), join(import.meta.dirname, '..', 'docs', `${name}.png`));
  });
});
