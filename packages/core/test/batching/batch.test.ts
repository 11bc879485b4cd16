import { describe, expect, it } from 'vitest';
import { runBatch } from '../../src/batching/batch.js';
import { BUSY } from '../../src/batching/coalescer.js';
import { statement } from '../../src/db/queryable.js';

describe('runBatch', () => {
  const stmt = statement('SELECT 1');

  it('sends parameters column by column and answers each call by its ord', async () => {
    let sent: unknown[] = [];
    const answers = await runBatch(
      async (_s, params) => {
        sent = params;
        return {
          rows: [
            { ord: 3, outcome: 'ok', busy: [2] },
            { ord: 1, outcome: 'ok', busy: [2] },
          ],
        };
      },
      stmt,
      [
        ['a', 1],
        ['b', 2],
        ['c', 3],
        ['d', 4],
      ],
    );
    expect(sent).toEqual([
      ['a', 'b', 'c', 'd'],
      [1, 2, 3, 4],
    ]);
    expect(answers).toEqual([
      { ord: 1, outcome: 'ok', busy: [2] },
      BUSY,
      { ord: 3, outcome: 'ok', busy: [2] },
      undefined,
    ]);
  });

  it('never sends a call round again that a row answered, even if the statement also named it busy', async () => {
    const answers = await runBatch(async () => ({ rows: [{ ord: 1, outcome: 'ok', busy: [1, 2] }] }), stmt, [
      ['a'],
      ['b'],
    ]);
    expect(answers[0]).toMatchObject({ ord: 1 });
    expect(answers[1]).toBe(BUSY);
  });
});
