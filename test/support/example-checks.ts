/** What every example behind `agentKeyAuth` must answer, checked one way for all of them. */
import type pg from 'pg';
import { expect } from 'vitest';
import type { Reply } from '../../packages/express/test/support/http.js';

/** The row first sight gave `subject`: scopes, budget, period and what it has used. */
export async function firstSightRow(pool: pg.Pool, subject: string) {
  const { rows } = await pool.query(
    'SELECT scopes, budget_cents, budget_period, budget_used_cents FROM sdk_api_keys WHERE external_subject = $1',
    [subject],
  );
  return rows;
}

/**
 * Calls until the budget is spent: each answer's remainingCents, then 429 with `Retry-After` (the
 * seconds to the period's reset) when the budget is periodic, and without one when it never resets.
 */
export async function expectBudgetRunsOut(
  send: () => Promise<Reply>,
  remaining: number[],
  periodic = true,
): Promise<void> {
  const seen = [];
  for (const _ of remaining) seen.push((await send()).body.remainingCents);
  expect(seen).toEqual(remaining);
  const over = await send();
  expect(over).toMatchObject({ status: 429, body: { error: 'budget_exceeded' } });
  const retryAfter = over.headers.get('retry-after');
  if (periodic) expect(Number(retryAfter)).toBeGreaterThan(0);
  else expect(retryAfter).toBeNull();
}

/** A 403 insufficient_scope whose challenge names the scope the route needs. */
export function expectScopeRefused(reply: Reply, scope: string): void {
  expect(reply).toMatchObject({ status: 403, body: { error: 'insufficient_scope' } });
  expect(reply.headers.get('www-authenticate')).toContain(`scope="${scope}"`);
}

/** A bad start: exit code 1, nothing on stdout, exactly one line on stderr matching `line`. */
export function expectOneLineExit(
  run: { code: number | null; stdout: string; stderr: string },
  line: RegExp,
) {
  expect(run.code).toBe(1);
  expect(run.stdout).toBe('');
  expect(run.stderr.split('\n')).toHaveLength(2); // the line and its newline
  expect(run.stderr).toMatch(line);
}
