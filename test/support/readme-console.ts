import { AgentKey } from '@agentkey/core';
import { expect } from 'vitest';
import { signInConsole } from './console-signin.js';
import { serverPool } from './db.js';

/**
 * One visit to the README's mounted console: no session redirects to sign-in; a key scoped
 * console:admin (minted here, on the example's schema) signs in and sees the keys page.
 */
export async function consoleVisit(origin: string, schema: string): Promise<void> {
  const pool = serverPool(schema, 1);
  try {
    const ak = new AgentKey({ pool });
    const admin = await ak.create({ accountId: 'ops', name: 'readme admin', scopes: ['console:admin'] });
    const first = await fetch(`${origin}/agentkey/`, { redirect: 'manual' });
    expect([first.status, first.headers.get('location')]).toEqual([303, '/agentkey/signin']);
    const signed = await signInConsole(`${origin}/agentkey`, admin.key);
    expect(signed.status).toBe(303);
    const cookie = signed.cookie!;
    const keys = await fetch(`${origin}/agentkey/keys`, { headers: { cookie } });
    expect(await keys.text()).toContain('readme admin');
  } finally {
    await pool.end();
  }
}
