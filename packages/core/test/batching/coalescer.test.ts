import { afterEach, describe, expect, it, vi } from 'vitest';
import { BUSY, Coalescer } from '../../src/batching/coalescer.js';

/** A batch `run` the test answers by hand: each call records its items and waits for `answer`. */
function manualRun<O>() {
  const batches: Array<{
    items: string[];
    answer: (outs: Array<O | undefined | typeof BUSY>) => void;
    fail: (e: Error) => void;
  }> = [];
  let running = 0;
  let peak = 0;
  const run = (items: readonly string[]) =>
    new Promise<ReadonlyArray<O | undefined | typeof BUSY>>((resolve, reject) => {
      running++;
      peak = Math.max(peak, running);
      const done = () => running--;
      batches.push({
        items: [...items],
        answer: (outs) => {
          done();
          resolve(outs);
        },
        fail: (e) => {
          done();
          reject(e);
        },
      });
    });
  return { run, batches, peak: () => peak };
}

/** Lets setImmediate callbacks and promise continuations run. */
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('Coalescer', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('calls made in one turn share one batch, in order, and each gets its own answer', async () => {
    const m = manualRun<string>();
    const c = new Coalescer(m.run, { maxInFlight: 2, maxBatch: 64 });
    const answers = ['a', 'b', 'c'].map((x) => c.submit(x));
    await turn();
    expect(m.batches.map((b) => b.items)).toEqual([['a', 'b', 'c']]);
    m.batches[0]!.answer(['A', undefined, 'C']);
    expect(await Promise.all(answers)).toEqual(['A', undefined, 'C']);
  });

  it('a call whose deadline passes while it is queued is never sent, and rejects with expired()', async () => {
    const m = manualRun<string>();
    const deadlines = new Map([
      ['a', Number.POSITIVE_INFINITY],
      ['b', Number.POSITIVE_INFINITY],
      ['c', Number.POSITIVE_INFINITY],
    ]);
    const c = new Coalescer(
      m.run,
      { maxInFlight: 1, maxBatch: 64 },
      { deadlineOf: (x) => deadlines.get(x)!, expired: () => new Error('too late') },
    );
    const a = c.submit('a');
    await turn();
    const b = c.submit('b');
    const later = c.submit('c');
    await turn();
    deadlines.set('b', Date.now() - 1); // its caller has been answered meanwhile
    m.batches[0]!.answer(['A']);
    await expect(b).rejects.toThrow('too late');
    await turn();
    expect(m.batches.map((x) => x.items)).toEqual([['a'], ['c']]);
    m.batches[1]!.answer(['C']);
    expect([await a, await later]).toEqual(['A', 'C']);
  });

  it('a lone call goes at once, alone', async () => {
    const m = manualRun<string>();
    const c = new Coalescer(m.run, { maxInFlight: 2, maxBatch: 64 });
    const one = c.submit('x');
    await turn();
    expect(m.batches.map((b) => b.items)).toEqual([['x']]);
    m.batches[0]!.answer(['X']);
    expect(await one).toBe('X');
  });

  it('never runs more than maxInFlight at once; calls queued meanwhile go together when a slot frees', async () => {
    const m = manualRun<string>();
    const c = new Coalescer(m.run, { maxInFlight: 2, maxBatch: 64 });
    const first = [c.submit('a')];
    await turn();
    const second = [c.submit('b')];
    await turn();
    const queued = ['c', 'd', 'e'].map((x) => c.submit(x));
    await turn();
    expect(m.batches.map((b) => b.items)).toEqual([['a'], ['b']]);
    m.batches[0]!.answer(['A']);
    await turn();
    expect(m.batches.map((b) => b.items)).toEqual([['a'], ['b'], ['c', 'd', 'e']]);
    m.batches[1]!.answer(['B']);
    m.batches[2]!.answer(['C', 'D', 'E']);
    expect(await Promise.all([...first, ...second, ...queued])).toEqual(['A', 'B', 'C', 'D', 'E']);
    expect(m.peak()).toBe(2);
  });

  it('splits a queue longer than maxBatch', async () => {
    const m = manualRun<number>();
    const c = new Coalescer(m.run, { maxInFlight: 4, maxBatch: 3 });
    const all = ['1', '2', '3', '4', '5', '6', '7'].map((x) => c.submit(x));
    await turn();
    expect(m.batches.map((b) => b.items)).toEqual([['1', '2', '3'], ['4', '5', '6'], ['7']]);
    for (const b of m.batches) b.answer(b.items.map(Number));
    expect(await Promise.all(all)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('with keyOf, a repeat of a key waits for a later batch and keeps its order', async () => {
    const m = manualRun<string>();
    const c = new Coalescer(m.run, { maxInFlight: 1, maxBatch: 64 }, { keyOf: (x) => x[0]! });
    const all = ['a1', 'b1', 'a2', 'c1', 'a3'].map((x) => c.submit(x));
    await turn();
    expect(m.batches.map((b) => b.items)).toEqual([['a1', 'b1', 'c1']]);
    m.batches[0]!.answer(['A1', 'B1', 'C1']);
    await turn();
    expect(m.batches[1]!.items).toEqual(['a2']);
    m.batches[1]!.answer(['A2']);
    await turn();
    expect(m.batches[2]!.items).toEqual(['a3']);
    m.batches[2]!.answer(['A3']);
    expect(await Promise.all(all)).toEqual(['A1', 'B1', 'A2', 'C1', 'A3']);
  });

  it('a BUSY call goes round again ahead of later calls, and after five rounds is answered undefined', async () => {
    const m = manualRun<string>();
    const c = new Coalescer(m.run, { maxInFlight: 1, maxBatch: 64 });
    const busy = c.submit('busy');
    const fine = c.submit('fine');
    await turn();
    const later = c.submit('later');
    await turn();
    m.batches[0]!.answer([BUSY, 'FINE']);
    expect(await fine).toBe('FINE');
    expect(m.batches[1]!.items).toEqual(['busy', 'later']);
    m.batches[1]!.answer([BUSY, 'LATER']);
    expect(await later).toBe('LATER');
    for (let round = 2; round < 5; round++) {
      await turn();
      expect(m.batches[round]!.items).toEqual(['busy']);
      m.batches[round]!.answer([BUSY]);
    }
    expect(await busy).toBeUndefined();
    expect(m.batches).toHaveLength(5);
  });

  it('a failing batch rejects exactly its own calls; the next batch still runs', async () => {
    const m = manualRun<string>();
    const c = new Coalescer(m.run, { maxInFlight: 1, maxBatch: 64 });
    const doomed = ['a', 'b'].map((x) => c.submit(x));
    await turn();
    const after = c.submit('c');
    m.batches[0]!.fail(new Error('connection reset'));
    await expect(doomed[0]).rejects.toThrow('connection reset');
    await expect(doomed[1]).rejects.toThrow('connection reset');
    await turn();
    expect(m.batches[1]!.items).toEqual(['c']);
    m.batches[1]!.answer(['C']);
    expect(await after).toBe('C');
  });

  it("with retryAlone, a batch that fails on one call's data runs each call again alone", async () => {
    const m = manualRun<string>();
    const dataError = Object.assign(new Error('invalid byte sequence'), { code: '22021' });
    const c = new Coalescer(m.run, { maxInFlight: 1, maxBatch: 64 }, { retryAlone: (e) => e === dataError });
    const calls = ['good', 'bad', 'busy'].map((x) => c.submit(x));
    await turn();
    m.batches[0]!.fail(dataError);
    await turn();
    expect(m.batches.slice(1).map((b) => b.items)).toEqual([['good'], ['bad'], ['busy']]);
    m.batches[1]!.answer(['GOOD']);
    m.batches[2]!.fail(dataError);
    m.batches[3]!.answer([BUSY]); // alone, busy means: not taken
    expect(await calls[0]).toBe('GOOD');
    await expect(calls[1]).rejects.toBe(dataError);
    expect(await calls[2]).toBeUndefined();
    // Any other error still fails the batch whole, and a lone call is never run twice.
    const other = ['x', 'y'].map((x) => c.submit(x));
    await turn();
    m.batches[4]!.fail(new Error('connection reset'));
    await expect(other[0]).rejects.toThrow('connection reset');
    await expect(other[1]).rejects.toThrow('connection reset');
    const lone = c.submit('z');
    await turn();
    m.batches[5]!.fail(dataError);
    await expect(lone).rejects.toBe(dataError);
    await turn();
    expect(m.batches).toHaveLength(6);
  });

  it('a statement running past 100 ms stops holding a slot, so it stalls nothing but its own calls', async () => {
    vi.useFakeTimers();
    const m = manualRun<string>();
    const c = new Coalescer(m.run, { maxInFlight: 1, maxBatch: 64 });
    const stuck = c.submit('stuck');
    await vi.advanceTimersByTimeAsync(0);
    const next = c.submit('next');
    await vi.advanceTimersByTimeAsync(99);
    expect(m.batches.map((b) => b.items)).toEqual([['stuck']]);
    await vi.advanceTimersByTimeAsync(1);
    expect(m.batches.map((b) => b.items)).toEqual([['stuck'], ['next']]);
    m.batches[1]!.answer(['NEXT']);
    expect(await next).toBe('NEXT');
    // The slow one still finishes, and its slot is not given back twice.
    m.batches[0]!.answer(['STUCK']);
    expect(await stuck).toBe('STUCK');
    const d = c.submit('d');
    await vi.advanceTimersByTimeAsync(0);
    const e = c.submit('e');
    await vi.advanceTimersByTimeAsync(0);
    expect(m.batches.slice(2).map((b) => b.items)).toEqual([['d']]);
    m.batches[2]!.answer(['D']);
    await vi.advanceTimersByTimeAsync(0);
    expect(m.batches.slice(3).map((b) => b.items)).toEqual([['e']]);
    m.batches[3]!.answer(['E']);
    expect(await Promise.all([d, e])).toEqual(['D', 'E']);
  });

  describe('lanes (laneOf)', () => {
    const row = (x: string) => x[0]!;

    it('a row a running batch carries waits for the next batch; other rows go at once', async () => {
      const m = manualRun<string>();
      const c = new Coalescer(m.run, { maxInFlight: 2, maxBatch: 64 }, { laneOf: row });
      const first = c.submit('a1');
      await turn();
      const second = ['a2', 'b1'].map((x) => c.submit(x));
      await turn();
      expect(m.batches.map((b) => b.items)).toEqual([['a1'], ['b1']]);
      m.batches[0]!.answer(['A1']);
      await turn();
      expect(m.batches[2]!.items).toEqual(['a2']);
      m.batches[1]!.answer(['B1']);
      m.batches[2]!.answer(['A2']);
      expect(await Promise.all([first, ...second])).toEqual(['A1', 'A2', 'B1']);
    });

    it("a BUSY call joins its row's lane: one waiting statement at a time carries every call on the row", async () => {
      const m = manualRun<string>();
      const w = manualRun<string>();
      const c = new Coalescer(m.run, { maxInFlight: 2, maxBatch: 64 }, { laneOf: row, runWaiting: w.run });
      const calls = ['a1', 'b1'].map((x) => c.submit(x));
      await turn();
      m.batches[0]!.answer([BUSY, 'B1']);
      // Calls on the row made meanwhile join its lane, not the batches.
      const later = ['a2', 'b2'].map((x) => c.submit(x));
      await turn();
      await turn();
      expect(w.batches.map((b) => b.items)).toEqual([['a1', 'a2']]);
      expect(m.batches.slice(1).map((b) => b.items)).toEqual([['b2']]);
      // One waiting statement at a time: these wait for the first, then go together.
      const more = ['a3', 'a4'].map((x) => c.submit(x));
      await turn();
      expect(w.batches).toHaveLength(1);
      w.batches[0]!.answer(['A1', 'A2']);
      await turn();
      await turn();
      expect(w.batches.slice(1).map((b) => b.items)).toEqual([['a3', 'a4']]);
      // BUSY from a waiting statement: the row stopped matching, the call is the engine's.
      w.batches[1]!.answer([BUSY, 'A4']);
      m.batches[1]!.answer(['B2']);
      expect(await Promise.all([...calls, ...later, ...more])).toEqual([
        'A1',
        'B1',
        'A2',
        'B2',
        undefined,
        'A4',
      ]);
      expect(m.batches).toHaveLength(2);
      // Without laneIdleMs the lane is gone once empty: the row's next call is a batch's again.
      const again = c.submit('a5');
      await turn();
      expect(m.batches[2]!.items).toEqual(['a5']);
      m.batches[2]!.answer(['A5']);
      expect(await again).toBe('A5');
    });

    it("with laneIdleMs, an empty lane waits for its row's next call, and ends after that long without one or past 1 s", async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
      const m = manualRun<string>();
      const w = manualRun<string>();
      const c = new Coalescer(
        m.run,
        { maxInFlight: 2, maxBatch: 64 },
        { laneOf: row, runWaiting: w.run, laneIdleMs: 100 },
      );
      const settle = async () => {
        await turn();
        await turn();
      };
      const first = c.submit('a1');
      await turn();
      m.batches[0]!.answer([BUSY]);
      await settle();
      w.batches[0]!.answer(['A1']);
      expect(await first).toBe('A1');
      // The row's next call, made once the last is answered, waits in the lane at once: it is
      // never sent to skip the row in a batch first.
      const second = c.submit('a2');
      await settle();
      expect(w.batches.map((b) => b.items)).toEqual([['a1'], ['a2']]);
      expect(m.batches).toHaveLength(1);
      w.batches[1]!.answer(['A2']);
      expect(await second).toBe('A2');
      // 99 ms on, the lane still waits; at 100 ms it ends, and the row's next call is a batch's.
      await settle();
      vi.advanceTimersByTime(99);
      const third = c.submit('a3');
      await settle();
      expect(w.batches).toHaveLength(3);
      w.batches[2]!.answer(['A3']);
      expect(await third).toBe('A3');
      await settle();
      vi.advanceTimersByTime(100);
      await settle();
      const fourth = c.submit('a4');
      await turn();
      expect(m.batches.map((b) => b.items)).toEqual([['a1'], ['a4']]);
      m.batches[1]!.answer([BUSY]);
      await settle();
      // A new lane: busy without a pause, it still ends at its first empty moment past 1 s.
      expect(w.batches).toHaveLength(4);
      vi.advanceTimersByTime(1000);
      w.batches[3]!.answer(['A4']);
      expect(await fourth).toBe('A4');
      await settle();
      const fifth = c.submit('a5');
      await turn();
      expect(m.batches.map((b) => b.items)).toEqual([['a1'], ['a4'], ['a5']]);
      m.batches[2]!.answer(['A5']);
      expect(await fifth).toBe('A5');
      expect(w.batches).toHaveLength(4);
    });

    it('a BUSY answer from a batch sent before the lane emptied wakes the waiting lane: no call is left behind', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
      const settles: Array<() => void> = [];
      const m = manualRun<string>();
      const run = (items: readonly string[], settled: () => void) => {
        settles.push(settled);
        return m.run(items);
      };
      const w = manualRun<string>();
      const c = new Coalescer(
        run,
        { maxInFlight: 2, maxBatch: 64 },
        { laneOf: row, runWaiting: w.run, laneIdleMs: 100 },
      );
      const first = c.submit('a1');
      await turn();
      // The first batch's statement releases the row, so a second batch on it goes out too.
      settles[0]!();
      const second = c.submit('a2');
      await turn();
      expect(m.batches.map((b) => b.items)).toEqual([['a1'], ['a2']]);
      m.batches[0]!.answer([BUSY]);
      await turn();
      await turn();
      w.batches[0]!.answer(['A1']);
      expect(await first).toBe('A1');
      await turn();
      // The lane is empty and waiting; the second batch's call comes back BUSY and joins it.
      m.batches[1]!.answer([BUSY]);
      await turn();
      await turn();
      expect(w.batches.map((b) => b.items)).toEqual([['a1'], ['a2']]);
      w.batches[1]!.answer(['A2']);
      expect(await second).toBe('A2');
      // Past the idle time, the lane ends with nothing in it.
      await turn();
      await turn();
      vi.advanceTimersByTime(100);
      await turn();
      const third = c.submit('a3');
      await turn();
      expect(m.batches.map((b) => b.items)).toEqual([['a1'], ['a2'], ['a3']]);
      m.batches[2]!.answer(['A3']);
      expect(await third).toBe('A3');
    });

    it("the next batch on a row goes once the last one's statement settles, before that one is answered", async () => {
      const settles: Array<() => void> = [];
      const m = manualRun<string>();
      const run = (items: readonly string[], settled: () => void) => {
        settles.push(settled);
        return m.run(items);
      };
      const c = new Coalescer(run, { maxInFlight: 1, maxBatch: 64 }, { laneOf: row });
      const first = c.submit('a1');
      await turn();
      const second = c.submit('a2');
      await turn();
      expect(m.batches.map((b) => b.items)).toEqual([['a1']]);
      settles[0]!();
      expect(m.batches.map((b) => b.items)).toEqual([['a1'], ['a2']]);
      m.batches[1]!.answer(['A2']);
      m.batches[0]!.answer(['A1']);
      expect(await Promise.all([first, second])).toEqual(['A1', 'A2']);
    });
  });
});
