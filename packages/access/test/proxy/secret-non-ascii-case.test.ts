import { describe, expect, it } from 'vitest';
import { grantedAgent, harnessPerFile } from '../support/setup.js';

// The scrubber folds ASCII letters only (it reads bytes); the forms it looks for must be folded
// the same way. Folded with toLowerCase, a secret with a non-ASCII capital (Ü, the Kelvin sign K,
// İ) became a form whose bytes the echo never has, and was passed on whole.
describe('a secret with non-ASCII capitals, echoed back', () => {
  const f = harnessPerFile({
    upstream: (req, res) => {
      if (!req.url?.includes('/echo')) return false;
      // A node upstream reads the header as latin1 and writes it back in UTF-8 JSON.
      const echoed = String(req.headers.authorization);
      res.writeHead(200, { 'content-type': 'application/json', 'x-echo': echoed });
      res.end(JSON.stringify({ authorization: echoed }));
      return true;
    },
  });

  it.each(['Übergroß-Schlüssel-7Qx9Lm2Vb8', 'ÀÉÎÕÜ-secret-7Qx9Lm2Vb8'])(
    'is masked in the body and its header dropped: %s',
    async (secret) => {
      const set = await f.h.access.setSecret('github', secret, { kind: 'human', id: 'alice' });
      expect(set.ok).toBe(true);
      const a = await grantedAgent(f.h);
      const answer = await f.h.call('GET', '/proxy/github/repos/echo', a.key);
      expect(answer.status).toBe(200);
      expect(f.upstream.seen.at(-1)!.headers.authorization).toBe(`Bearer ${secret}`);
      expect(answer.headers.get('x-echo')).toBe(null);
      const echoed = String(answer.body.authorization);
      expect(echoed).not.toContain(secret);
      expect(echoed).toBe('*'.repeat(Buffer.byteLength(`Bearer ${secret}`)));
    },
  );
});
