import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { harnessPerFile } from '../support/setup.js';

/** Sends only the head of a request that declares a huge body; resolves with the answer's head. */
function headOnly(origin: string, head: string): Promise<string> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(head));
    let got = '';
    socket.on('data', (chunk) => {
      got += chunk.toString('latin1');
      const end = got.indexOf('\r\n\r\n');
      if (end !== -1) {
        socket.destroy();
        resolve(got.slice(0, end).toLowerCase());
      }
    });
    socket.on('error', reject);
  });
}

// A proxied call the store refuses (no grant, rate, budget) answers before the agent's body is
// read; keeping the connection open makes the server read and discard all of it, however large.
describe('a proxied call refused before its body is read', () => {
  const f = harnessPerFile();

  it('closes the connection (Connection: close) rather than read a huge declared body to its end', async () => {
    const stranger = await f.h.ak.create({ accountId: 'acme' });
    const head = await headOnly(
      f.h.origin,
      [
        'POST /proxy/github/repos/x HTTP/1.1',
        'Host: 127.0.0.1',
        `Authorization: Bearer ${stranger.key}`,
        'Content-Type: application/octet-stream',
        'Content-Length: 100000000000',
        '',
        '',
      ].join('\r\n'),
    );
    expect(head.split('\r\n')[0]).toBe('http/1.1 403 forbidden');
    expect(head).toContain('connection: close');
  });
});
