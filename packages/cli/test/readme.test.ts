import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPlace, type Place, run } from './support/cli.js';

/** The README's quick tour runs as written, in order, on a fresh table. */
describe('packages/cli/README.md', () => {
  let place: Place;
  beforeAll(async () => {
    place = await openPlace('postgres');
  });
  afterAll(() => place.close());

  it('every command of the quick tour exits 0, and the secret appears only where it was minted', async () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const block = /<!-- commands: [^\n]*-->\n```sh\n([\s\S]*?)```/.exec(readme)![1]!;
    const commands = block.trim().split('\n');
    expect(commands.length).toBeGreaterThanOrEqual(10);
    let secret = '';
    for (const line of commands) {
      expect(line.startsWith('agentkey ')).toBe(true);
      const ran = await run(place, line.slice('agentkey '.length).split(/\s+/));
      expect(ran.code, `${line}: ${ran.err}`).toBe(0);
      if (line.includes('keys create')) secret = /ak_[0-9a-f]+/.exec(ran.out)![0];
      else expect(ran.out).not.toContain(secret || 'never-empty');
    }
    expect(secret).not.toBe('');
  });
});
