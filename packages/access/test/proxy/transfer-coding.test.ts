import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { closedAfterEach, gateway, LIMITS, route, SECRET } from './servers.js';

const keep = closedAfterEach();

/**
 * An upstream that compresses with a transfer coding (`Transfer-Encoding: gzip, chunked`): node's
 * client undoes the chunking only and hands on the gzip bytes, with no Content-Encoding to say so.
 * Written on a raw socket, as node's own server would not send it.
 */
async function transferCoded(coding: string, body: Buffer) {
  const server: Server = createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () => {
      socket.write(
        `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: ${coding}\r\n\r\n` +
          `${body.length.toString(16)}\r\n`,
      );
      socket.write(body);
      socket.end('\r\n0\r\n\r\n');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  keep({
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
      }),
  });
  return keep(await gateway(route(`http://127.0.0.1:${port}/api/`), LIMITS));
}

describe('an answer compressed with a transfer coding', () => {
  it.each(['gzip, chunked', 'GZIP , chunked'])(
    'is never passed on unread (%s): the agent gets no bytes the secret check could not read',
    async (coding) => {
      const echo = Buffer.from(JSON.stringify({ token: SECRET }));
      const proxy = await transferCoded(coding, gzipSync(echo));
      const answer = await fetch(`${proxy.url}/proxy/tool/repos/x`);
      const bytes = Buffer.from(await answer.arrayBuffer().catch(() => new ArrayBuffer(0)));
      // Whatever was answered, it must not unpack to the secret.
      let unpacked = bytes.toString('latin1');
      try {
        unpacked = (await import('node:zlib')).gunzipSync(bytes).toString('utf8');
      } catch {}
      expect(unpacked).not.toContain(SECRET);
      expect(answer.status).toBe(502);
      expect(await proxy.next()).toMatchObject({ ok: false, code: 'upstream_error' });
    },
  );
});
