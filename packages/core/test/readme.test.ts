import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const example = readFileSync(new URL('./readme-example.ts', import.meta.url), 'utf8');

afterEach(() => {
  vi.restoreAllMocks();
});

describe('packages/core/README.md', () => {
  it('shows readme-example.ts as its first TypeScript block', () => {
    const first = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(first).toBe(example);
  });

  it('the example runs on PGlite and prints what its comments say', async () => {
    const printed: unknown[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: unknown) => printed.push(line));
    await import('./readme-example.js');
    const promised = [...example.matchAll(/^\/\/ (.+)$/gm)].map((m) => m[1]).slice(-printed.length);
    expect(printed).toEqual(['allowed, 40¢ left', 'refused: budget_exceeded']);
    expect(promised).toEqual(printed);
  });
});
