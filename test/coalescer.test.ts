// The coalescer behind batched creates: alone a call goes at once; calls that
// arrive while a batch is in flight go together; each caller gets its own
// outcome, and a batch that fails fails each of its callers.
import { describe, expect, it } from 'vitest';
import { Coalescer, coalescerPer } from '../src/util/coalescer.js';
import { pause } from './support/wait.js';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe('Coalescer', () => {
  it('runs a lone call at once, and groups the calls that arrive while it is in flight (up to maxBatch)', async () => {
    const gates: Array<ReturnType<typeof deferred<void>>> = [];
    const batches: number[][] = [];
    const c = new Coalescer<number, number>(async (items) => {
      batches.push(items);
      const gate = deferred<void>();
      gates.push(gate);
      await gate.promise;
      return items.map((i) => ({ status: 'fulfilled', value: i * 10 }));
    }, { maxBatch: 3, maxInFlight: 1 });

    const first = c.push(1);
    expect(batches).toEqual([[1]]);
    const rest = [2, 3, 4, 5].map((i) => c.push(i));
    expect(batches).toEqual([[1]]); // one in flight: the others wait
    gates[0]!.resolve();
    expect(await first).toBe(10);
    await new Promise((r) => setImmediate(r));
    expect(batches).toEqual([[1], [2, 3, 4]]);
    gates[1]!.resolve();
    await new Promise((r) => setImmediate(r));
    expect(batches).toEqual([[1], [2, 3, 4], [5]]);
    gates[2]!.resolve();
    expect(await Promise.all(rest)).toEqual([20, 30, 40, 50]);
    expect(c.stats).toEqual({ batches: 3, items: 5, largest: 3 });
  });

  it('runs up to maxInFlight batches at once', () => {
    let running = 0;
    let most = 0;
    const c = new Coalescer<number, number>(async (items) => {
      running += 1;
      most = Math.max(most, running);
      await pause(5); // a batch's work, long enough for the next push to find it running
      running -= 1;
      return items.map((i) => ({ status: 'fulfilled', value: i }));
    }, { maxBatch: 1, maxInFlight: 2 });
    return Promise.all([1, 2, 3, 4].map((i) => c.push(i))).then((out) => {
      expect(out).toEqual([1, 2, 3, 4]);
      expect(most).toBe(2);
    });
  });

  it('gives each caller its own outcome: one item rejected, the rest fulfilled', async () => {
    const c = new Coalescer<number, number>(async (items) =>
      items.map((i) => (i === 2 ? { status: 'rejected', reason: new Error('two is bad') } : { status: 'fulfilled', value: i })),
    { maxBatch: 10, maxInFlight: 1 });
    const blocker = c.push(0);
    const settled = await Promise.allSettled([1, 2, 3].map((i) => c.push(i)));
    await blocker;
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason.message).toBe('two is bad');
  });

  it('rejects every caller of a batch whose run throws, and a caller it returns no outcome for; the next batch still runs', async () => {
    let calls = 0;
    const c = new Coalescer<number, number>(async (items) => {
      calls += 1;
      if (calls === 2) throw new Error('batch failed');
      if (calls === 3) return [];
      return items.map((i) => ({ status: 'fulfilled', value: i }));
    }, { maxBatch: 10, maxInFlight: 1 });
    const blocker = c.push(0); // in flight, so 1 and 2 share the next batch
    const failed = await Promise.allSettled([c.push(1), c.push(2)]);
    expect(await blocker).toBe(0);
    expect(failed.map((s) => (s as PromiseRejectedResult).reason?.message)).toEqual(['batch failed', 'batch failed']);
    await expect(c.push(3)).rejects.toThrow(/no outcome/);
    expect(await c.push(4)).toBe(4);
  });
});

describe('coalescerPer', () => {
  it('makes one coalescer per owner on first use, whose batches run with that owner', async () => {
    const seen: Array<[string, number[]]> = [];
    const per = coalescerPer<{ name: string }, number, string>(async (owner, items) => {
      seen.push([owner.name, items]);
      return items.map((i) => ({ status: 'fulfilled', value: `${owner.name}:${i}` }));
    }, { maxBatch: 10, maxInFlight: 1 });
    const a = { name: 'a' };
    const b = { name: 'b' };
    expect(per(a)).toBe(per(a));
    expect(per(a)).not.toBe(per(b));
    expect(await Promise.all([per(a).push(1), per(b).push(2)])).toEqual(['a:1', 'b:2']);
    expect(seen).toEqual([['a', [1]], ['b', [2]]]);
  });
});
