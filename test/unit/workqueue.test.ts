import { describe, expect, it } from '@jest/globals';
import { WorkQueue, type WorkResult } from '../../src/shell/workqueue.ts';

const tick = (ms = 5) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the work queue', () => {
  it('never hands one key to two workers at once, and runs it again when it was added meanwhile', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    let runs = 0;
    let release: () => void = () => undefined;
    const queue = new WorkQueue({
      workers: 4,
      handler: async () => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        runs++;
        if (runs === 1) await new Promise<void>((resolve) => (release = resolve));
        inFlight--;
        return {};
      },
    });
    queue.start();
    queue.add('ns/a');
    await tick();
    queue.add('ns/a');
    queue.add('ns/a');
    await tick();
    release();
    await tick(20);
    await queue.idle();
    expect(maxInFlight).toBe(1);
    // One run while busy, then exactly one more for the adds made meanwhile.
    expect(runs).toBe(2);
    await queue.shutdown();
  });

  it('merges repeated adds of a waiting key', async () => {
    const seen: string[] = [];
    const queue = new WorkQueue({ workers: 1, handler: (key) => Promise.resolve((seen.push(key), {})) });
    queue.add('ns/a');
    queue.add('ns/b');
    queue.add('ns/a');
    queue.start();
    await tick(10);
    await queue.idle();
    expect(seen).toEqual(['ns/a', 'ns/b']);
    await queue.shutdown();
  });

  it('backs off exponentially per key from 5 ms to 1000 s and forgets on success', async () => {
    let failuresLeft = 3;
    const queue = new WorkQueue({
      workers: 1,
      handler: () =>
        failuresLeft-- > 0 ? Promise.reject(new Error('apiserver said no')) : Promise.resolve({}),
    });
    expect([1, 2, 3, 10].map((n) => queue.backoffMs(n))).toEqual([5, 10, 20, 2560]);
    expect(queue.backoffMs(100)).toBe(1_000_000);
    queue.start();
    queue.add('ns/a');
    for (let i = 0; i < 50 && failuresLeft >= 0; i++) await tick(10);
    await queue.idle();
    expect(failuresLeft).toBe(-1);
    expect(queue.retries('ns/a')).toBe(0);
    await queue.shutdown();
  });

  it('requeues a key after the time its handler asks for', async () => {
    const runs: number[] = [];
    const queue = new WorkQueue({
      workers: 1,
      handler: (): Promise<WorkResult> => {
        runs.push(runs.length);
        return Promise.resolve(runs.length < 3 ? { requeueAfterMs: 1 } : {});
      },
    });
    queue.start();
    queue.add('ns/a');
    for (let i = 0; i < 50 && runs.length < 3; i++) await tick(5);
    expect(runs).toHaveLength(3);
    await queue.shutdown();
  });

  it('drains: shutdown waits for the key in flight and drops what waits', async () => {
    let finished = false;
    const handled: string[] = [];
    const queue = new WorkQueue({
      workers: 1,
      handler: async (key) => {
        handled.push(key);
        await tick(20);
        finished = true;
        return {};
      },
    });
    queue.start();
    queue.add('ns/a');
    queue.add('ns/b');
    await tick(2);
    await queue.shutdown();
    expect(finished).toBe(true);
    expect(handled).toEqual(['ns/a']);
    queue.add('ns/c');
    expect(queue.size).toBe(0);
  });
});
