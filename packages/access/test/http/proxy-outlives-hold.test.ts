import { accessRoutes } from '@agentkey/access';
import { describe, expect, it } from 'vitest';
import { harnessPerFile } from '../support/setup.js';

// A proxied call's cost is held for 5 minutes (store/charge.ts). A call allowed to run longer
// (maxDurationMs past 5 minutes, or unset: only the idle timeout bounds a trickle) settles a hold
// that has expired: the call costs nothing, yet its audit row says it was charged.
describe('proxy limits against the hold of a call', () => {
  const f = harnessPerFile({ tool: false });
  const auth = (_req: unknown, _res: unknown, next: () => void) => next();

  it('refuses, at construction, a maxDurationMs past the hold or none at all', () => {
    const routes = (maxDurationMs: number | undefined) => () =>
      accessRoutes({ access: f.h.access, auth, proxyLimits: { maxDurationMs } });
    expect(routes(10 * 60_000)).toThrow(/maxDurationMs/);
    expect(routes(undefined)).toThrow(/maxDurationMs/);
    expect(routes(60_000)).not.toThrow();
  });
});
