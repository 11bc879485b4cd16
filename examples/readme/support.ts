/**
 * Not shown in any README: what the README fragments assume around them (an app, a token), and
 * one real request to the app, so a fragment runs instead of only compiling.
 */
import type { AddressInfo } from 'node:net';
import type { Express, Request, Response } from 'express';

/** The README's `handler`. */
export function handler(req: Request, res: Response): void {
  res.json({ who: req.agentKey?.accountId });
}

/** A token the test minted from its IdP stand-in (README_TOKEN_OIDC, …_AUTH0, …_CLERK). */
export function token(idp: 'OIDC' | 'AUTH0' | 'CLERK'): string {
  const value = process.env[`README_TOKEN_${idp}`];
  if (!value) throw new Error(`README_TOKEN_${idp} is not set: run this file through test/readme.test.ts`);
  return value;
}

/** Starts `app`, sends `POST path` with each bearer once, prints each answer, stops it. */
export async function callOnce(app: Express, bearers: string[], path = '/chat'): Promise<void> {
  const server = app.listen(0);
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    for (const bearer of bearers) {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${bearer}` },
      });
      console.log(`POST ${path} → ${res.status} ${await res.text()}`);
    }
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}
