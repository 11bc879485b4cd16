import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Access } from '@agentkey/access';
import { agentKeyConsole } from '@agentkey/console';
import { type Command, InvalidArgumentError } from 'commander';
import express from 'express';
import { CliError } from '../errors.js';
import type { CommandGroup } from './group.js';

const MOUNT = '/agentkey';
const ADMIN_SCOPE = 'console:admin';

function port(value: string): number {
  const n = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= 0 && n <= 65_535))
    throw new InvalidArgumentError(`Expected a port from 0 to 65535, got ${value.slice(0, 20)}.`);
  return n;
}

/**
 * `agentkey console`: the web console on the same database the other commands use (the data
 * folder, --pglite or DATABASE_URL, as the gateway finds it), served until Ctrl-C.
 */
export const consoleGroup: CommandGroup = {
  name: 'console',
  register(program, cli) {
    program
      .command('console')
      .description(`serve the web console at http://127.0.0.1:<port>${MOUNT} until Ctrl-C`)
      .option('--port <n>', 'the port (0: any free one)', port, 8788)
      .option('--host <address>', 'the address to listen on', '127.0.0.1')
      .option('--admin-scope <scope>', 'the scope an admin key must name to sign in', ADMIN_SCOPE)
      .option('--new-admin-key', `mint a key with the admin scope and print it once`)
      .action(
        async (
          o: { port: number; host: string; adminScope: string; newAdminKey?: boolean },
          command: Command,
        ) => {
          const ak = await cli.store(command, true);
          const pool = await cli.pool(command);
          await ak.migrate();
          const secrets = cli.io.env.AGENTKEY_SECRET_KEYS;
          const access = secrets ? new Access({ ak, pool, secretKeys: secrets }) : null;
          await access?.migrate();
          const app = express();
          app.disable('x-powered-by');
          app.use(MOUNT, agentKeyConsole({ agentKey: ak, pool, access, adminScope: o.adminScope }));
          const server = createServer(app);
          // The address is the user's, not the database's: say so (a bad --host, a busy --port).
          // (events.once rejects on 'error' itself, so one listener pair decides.)
          await new Promise<void>((resolve, reject) => {
            server.once('listening', resolve);
            server.once('error', (e: NodeJS.ErrnoException) =>
              reject(
                new CliError(
                  `cannot listen on ${o.host}:${o.port} (${e.code ?? e.message}): check --host and --port`,
                ),
              ),
            );
            server.listen(o.port, o.host);
          });
          const { port } = server.address() as AddressInfo;
          // An IPv6 address goes in brackets in a URL (http://[::1]:8788/…).
          const host = o.host.includes(':') ? `[${o.host}]` : o.host;
          cli.line(`agentkey console on http://${host}:${port}${MOUNT} (${cli.where})`);
          if (o.newAdminKey) {
            const made = await ak.create({
              accountId: 'console',
              name: 'console admin',
              scopes: [o.adminScope],
            });
            cli.line(
              `  admin key #${made.id}: ${made.key}  (shown once; revoke with: agentkey keys revoke ${made.id})`,
            );
          } else cli.line(`  sign in with a key whose scopes name ${o.adminScope} (or pass --new-admin-key)`);
          if (!access) cli.line('  approvals, tools and the audit log: set AGENTKEY_SECRET_KEYS');
          cli.line('Stop with Ctrl-C.');
          const signal = cli.io.signal;
          if (signal && !signal.aborted) await once(signal, 'abort');
          server.closeAllConnections();
          await new Promise((resolve) => server.close(resolve));
        },
      );
  },
};
