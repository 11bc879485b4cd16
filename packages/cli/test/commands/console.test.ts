import { signInConsole } from '@agentkey/test-support/console-signin.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPlace, type Place, run } from '../support/cli.js';

describe.each(['postgres', 'pglite'] as const)('agentkey console (%s)', (backend) => {
  let place: Place;
  beforeAll(async () => {
    place = await openPlace(backend);
  }, 60_000);
  afterAll(() => place?.close());

  it('serves the console on the same database, with a fresh admin key that signs in, until Ctrl-C', async () => {
    const stop = new AbortController();
    let printed: (out: string) => void = () => {};
    const ready = new Promise<string>((resolve) => {
      printed = (out) => {
        if (out.includes('Stop with Ctrl-C.')) resolve(out);
      };
    });
    const ran = run(place, ['console', '--port', '0', '--new-admin-key'], {
      signal: stop.signal,
      onOut: (o) => printed(o),
    });
    const out = await Promise.race([
      ready,
      ran.then((r) => Promise.reject(new Error(`exited ${r.code}: ${r.err}`))),
    ]);
    const url = /agentkey console on (\S+)/.exec(out)![1]!;
    const key = /admin key #\d+: (ak_\w+)/.exec(out)![1]!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/agentkey$/);
    try {
      expect((await fetch(`${url}/`, { redirect: 'manual' })).status).toBe(303);
      const signed = await signInConsole(url, key);
      expect(signed.status).toBe(303);
      const cookie = signed.cookie!;
      const keys = await fetch(`${url}/keys`, { headers: { cookie } });
      expect(await keys.text()).toContain('console admin');
    } finally {
      stop.abort();
    }
    expect((await ran).code).toBe(0);
  }, 120_000);

  it('refuses a port that is not one, in one line', async () => {
    const ran = await run(place, ['console', '--port', '70000']);
    expect(ran.code).not.toBe(0);
    expect(ran.err).toMatch(/port from 0 to 65535/);
  });

  it('prints an IPv6 host in brackets, so the URL it prints opens', async () => {
    const stop = new AbortController();
    let seen = '';
    const ran = run(place, ['console', '--port', '0', '--host', '::1'], {
      signal: stop.signal,
      onOut: (out) => {
        seen = out;
        if (out.includes('Stop with Ctrl-C.')) stop.abort();
      },
    });
    const done = await ran;
    const url = /agentkey console on (\S+)/.exec(seen)?.[1];
    if (done.code !== 0 && /EADDRNOTAVAIL/.test(done.err)) return; // no IPv6 loopback on this machine
    expect(url).toMatch(/^http:\/\/\[::1\]:\d+\/agentkey$/);
    expect(new URL(url!).hostname).toBe('[::1]');
  });

  it('a host it cannot listen on is blamed on --host, not on the database', async () => {
    // 192.0.2.1 (TEST-NET-1) is no address of this machine: listen fails with EADDRNOTAVAIL.
    const ran = await run(place, ['console', '--port', '0', '--host', '192.0.2.1']);
    expect(ran.code).toBe(1);
    expect(ran.err).toMatch(
      /^error: cannot listen on 192\.0\.2\.1:0 \(EADDRNOTAVAIL\): check --host and --port\n$/,
    );
    expect(ran.err).not.toMatch(/database/);
  });
});
