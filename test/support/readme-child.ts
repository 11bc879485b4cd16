/**
 * Preloaded (`--import`) into each README example a test runs, to run it as written but locally:
 * - fetch to an IdP origin named in AGENTKEY_README_ROUTES (JSON: origin → local stand-in origin)
 *   goes to the stand-in, so `issuer: 'https://login.example.com/'` stays in the README;
 * - `listen(3000)` listens on a free loopback port instead and announces it on stderr, so parallel
 *   runs never collide;
 * - every pg.Pool the example used must have been ended when it exits, else the exit code is 3:
 *   a forgotten pool keeps a newcomer's process hanging for pg's 10 s idle timeout.
 */
import { createRequire } from 'node:module';
import * as net from 'node:net';
import { LISTENING, POOL_LEFT_OPEN } from './readme-run.js';

const routes = Object.entries(
  JSON.parse(process.env.AGENTKEY_README_ROUTES ?? '{}') as Record<string, string>,
);
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  const url = input instanceof Request ? input.url : String(input);
  const route = routes.find(([from]) => url.startsWith(from));
  if (!route) return realFetch(input, init);
  const local = route[1] + url.slice(route[0].length);
  return realFetch(input instanceof Request ? new Request(local, input) : local, init);
};

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
  const done = typeof args.at(-1) === 'function' ? (args.at(-1) as () => void) : undefined;
  this.once('listening', () => {
    process.stderr.write(`${LISTENING}${(this.address() as net.AddressInfo).port}\n`);
  });
  return (listen as (...a: unknown[]) => net.Server).call(this, 0, '127.0.0.1', done);
} as typeof listen;

// The example's own pg (resolved from its file), whose pools it creates.
const pg = createRequire(process.argv[1] ?? import.meta.url)('pg') as typeof import('pg');
const pools = new Set<import('pg').Pool & { ending?: boolean }>();
const connect = pg.Pool.prototype.connect;
pg.Pool.prototype.connect = function (this: import('pg').Pool, ...args: unknown[]) {
  pools.add(this);
  return (connect as (...a: unknown[]) => unknown).apply(this, args);
} as typeof connect;
process.on('exit', () => {
  if ([...pools].some((pool) => !pool.ending)) {
    process.stderr.write(`${POOL_LEFT_OPEN}\n`);
    process.exitCode = 3;
  }
});
