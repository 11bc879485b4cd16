/**
 * Serves an embedded PGlite on 127.0.0.1 over the PostgreSQL wire protocol, so the gateway and the
 * `agentkey` CLI can use the folder at the same time. PGlite has ONE backend session; every client
 * shares it. So a client takes the session for a whole unit of work and no other client's message
 * runs until the unit ends: from its first message until a Sync or simple Query after which the
 * session is outside a transaction block. That covers an extended-protocol batch (Parse … Sync:
 * the unnamed statement and portal are the session's) and a whole transaction (BEGIN … COMMIT).
 * (@electric-sql/pglite-socket 0.2.17 queues single messages, so another client's Parse can land
 * between a client's Parse and Bind; its queue keeps transactions apart but not batches.)
 *
 * Every client, the gateway's own pool included, goes through here: nothing else touches the PGlite.
 * A client that leaves mid-unit has its batch closed and its transaction rolled back; `DISCARD ALL`
 * then drops what it left in the shared session (SET, prepared statements, session advisory locks).
 * A client holding the session idle longer than `idleMs` is cut off, so a stopped CLI cannot stall
 * the gateway. Clients log in with a password (cleartext over loopback, checked in constant time).
 */

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';

export interface ServedPGlite {
  /** postgres://agentkey:<password>@127.0.0.1:<port>/postgres */
  url: string;
  close(): Promise<void>;
}

const SSL_REQUEST = 80877103;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;
const SYNC = Buffer.from([0x53, 0, 0, 0, 4]);

/** One holder of the session at a time, first come first served. */
class Turn {
  private tail: Promise<void> = Promise.resolve();
  take(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const ready = this.tail.then(() => release);
    this.tail = this.tail.then(() => held);
    return ready;
  }
}

export async function servePGlite(db: PGlite, options: { idleMs?: number } = {}): Promise<ServedPGlite> {
  const idleMs = options.idleMs ?? 15_000;
  const password = randomBytes(24).toString('base64url');
  const turn = new Turn();
  const clients = new Map<Socket, Promise<void>>();
  const server = createServer((socket) => {
    const done = serveClient(socket, db, turn, password, idleMs);
    clients.set(socket, done);
    void done.then(() => clients.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `postgres://agentkey:${password}@127.0.0.1:${port}/postgres`,
    close: async () => {
      const closed = new Promise((resolve) => server.close(resolve));
      const left = [...clients.values()];
      for (const socket of clients.keys()) socket.destroy();
      // Each client's cleanup (rollback, DISCARD ALL) runs before the caller closes the PGlite.
      await Promise.all(left);
      await closed;
    },
  };
}

/** Serves one client; resolves once it has gone and its traces are cleared from the session. */
function serveClient(
  socket: Socket,
  db: PGlite,
  turn: Turn,
  password: string,
  idleMs: number,
): Promise<void> {
  let buffer = Buffer.alloc(0);
  let stage: 'startup' | 'password' | 'ready' = 'startup';
  let startup: Buffer | null = null;
  let release: (() => void) | null = null;
  let midBatch = false;
  let idle: NodeJS.Timeout | undefined;
  let chain: Promise<void> = Promise.resolve();
  let gone = false;

  const fail = (code: string, message: string) => {
    socket.end(errorResponse(code, message));
    gone = true;
  };

  const run = async (message: Buffer): Promise<void> => {
    if (!release) release = await turn.take();
    clearTimeout(idle);
    const type = message[0];
    const out = await db.execProtocolRaw(new Uint8Array(message));
    if (out.length > 0 && !socket.destroyed) socket.write(out);
    midBatch = type !== 0x53 && type !== 0x51;
    if (!midBatch && !db.isInTransaction()) {
      release();
      release = null;
    } else {
      idle = setTimeout(() => socket.destroy(), idleMs);
    }
  };

  const handle = async (message: Buffer): Promise<void> => {
    if (stage === 'startup') {
      const code = message.readInt32BE(4);
      if (code === SSL_REQUEST) return void socket.write('N');
      if (code === CANCEL_REQUEST) return fail('0A000', 'cancel requests are not supported');
      if (code !== PROTOCOL_3) return fail('08P01', 'unsupported protocol version');
      startup = message;
      stage = 'password';
      // AuthenticationCleartextPassword
      return void socket.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3]));
    }
    if (stage === 'password') {
      const given = message[0] === 0x70 ? message.subarray(5, message.length - 1) : Buffer.alloc(0);
      if (!sameSecret(given, password)) return fail('28P01', 'password authentication failed');
      stage = 'ready';
      // PGlite answers the startup message with AuthenticationOk, parameters and ReadyForQuery.
      return run(startup!);
    }
    if (message[0] === 0x58) return void socket.end(); // Terminate
    return run(message);
  };

  socket.on('data', (data) => {
    buffer = Buffer.concat([buffer, data]);
    for (;;) {
      const typed = stage === 'ready' || stage === 'password';
      const head = typed ? 5 : 4;
      if (buffer.length < head) break;
      const length = typed ? 1 + buffer.readInt32BE(1) : buffer.readInt32BE(0);
      if (length < (typed ? 5 : 8)) return void socket.destroy();
      if (buffer.length < length) break;
      const message = buffer.subarray(0, length);
      buffer = buffer.subarray(length);
      chain = chain.then(() => (gone ? undefined : handle(message)));
      if (!typed) {
        // The stage after a startup message is known only once it is handled: wait for it.
        chain = chain.then(() => {
          if (buffer.length > 0) socket.emit('data', Buffer.alloc(0));
        });
        break;
      }
    }
  });
  socket.on('error', () => {});
  return new Promise((resolve) =>
    socket.on('close', () => {
      gone = true;
      clearTimeout(idle);
      chain = chain
        .catch(() => {})
        .then(async () => {
          const mine = release ?? (stage === 'ready' ? await turn.take() : null);
          if (!mine) return;
          try {
            if (midBatch) await db.execProtocolRaw(new Uint8Array(SYNC));
            if (db.isInTransaction()) await db.exec('ROLLBACK');
            await db.exec('DISCARD ALL');
          } finally {
            mine();
            release = null;
          }
        })
        .catch(() => {})
        .then(resolve);
    }),
  );
}

function sameSecret(given: Buffer, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function errorResponse(code: string, message: string): Buffer {
  const fields = Buffer.from(`SFATAL\0C${code}\0M${message}\0\0`);
  const head = Buffer.alloc(5);
  head[0] = 0x45;
  head.writeInt32BE(4 + fields.length, 1);
  return Buffer.concat([head, fields]);
}
