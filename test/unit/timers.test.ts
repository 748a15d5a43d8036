import { describe, expect, it } from '@jest/globals';
import { MAX_TIMER_MS, setLongTimeout, type TimerFunctions } from '../../src/shell/timers.ts';
import { WorkQueue } from '../../src/shell/workqueue.ts';

/** Timers that never fire by themselves: the test fires them, and sees every delay Node would get. */
function manualTimers() {
  const pending = new Map<number, { callback: () => void; ms: number }>();
  const delays: number[] = [];
  let next = 0;
  const timers: TimerFunctions = {
    setTimeout: (callback, ms) => {
      const id = next++;
      delays.push(ms);
      pending.set(id, { callback, ms });
      return { id } as never;
    },
    clearTimeout: (handle) => {
      pending.delete((handle as { id: number }).id);
    },
  };
  /** Fire every timer that is due now (one round: timers they arm wait for the next round). */
  const fireAll = (): number => {
    const due = [...pending.entries()];
    pending.clear();
    due.forEach(([, t]) => {
      t.callback();
    });
    return due.length;
  };
  return { timers, delays, pending, fireAll };
}

const YEARS_AWAY_MS = 9_999_999_999 * 3_600_000; // "9999999999h"

describe('a long timeout', () => {
  it('is a chain of delays Node honours, and fires once, at the end of the chain', () => {
    const { timers, delays, fireAll } = manualTimers();
    let fired = 0;
    setLongTimeout(() => fired++, 60 * 24 * 3_600_000, { timers }); // 60 days
    let rounds = 0;
    while (fired === 0 && rounds < 10) {
      fireAll();
      rounds++;
    }
    expect(fired).toBe(1);
    expect(rounds).toBe(3); // 24.8 + 24.8 + 10.4 days
    expect(delays.every((d) => d <= MAX_TIMER_MS)).toBe(true);
    expect(delays.reduce((a, b) => a + b, 0)).toBe(60 * 24 * 3_600_000);
  });

  it('years away never hands Node a delay it would fire at once', () => {
    const { timers, delays, fireAll } = manualTimers();
    let fired = 0;
    setLongTimeout(() => fired++, YEARS_AWAY_MS, { timers });
    for (let i = 0; i < 1000; i++) fireAll();
    expect(fired).toBe(0);
    expect(delays).toHaveLength(1001); // the first, and one more each time a link of the chain ends
    expect(delays.every((d) => d === MAX_TIMER_MS)).toBe(true);
  });

  it('cancelled halfway through the chain never fires', () => {
    const { timers, pending, fireAll } = manualTimers();
    let fired = 0;
    const timer = setLongTimeout(() => fired++, 3 * MAX_TIMER_MS, { timers });
    fireAll();
    timer.cancel();
    expect(pending.size).toBe(0);
    fireAll();
    expect(fired).toBe(0);
  });

  it('of Infinity waits until cancelled, with nothing scheduled', () => {
    const { timers, delays } = manualTimers();
    let fired = 0;
    setLongTimeout(() => fired++, Number.POSITIVE_INFINITY, { timers });
    expect(delays).toEqual([]);
    expect(fired).toBe(0);
  });

  it('of NaN or a negative number is due now', () => {
    const { timers, delays, fireAll } = manualTimers();
    let fired = 0;
    setLongTimeout(() => fired++, Number.NaN, { timers });
    setLongTimeout(() => fired++, -5, { timers });
    fireAll();
    expect(delays).toEqual([0, 0]);
    expect(fired).toBe(2);
  });
});

describe('the work queue with a deadline years away', () => {
  it('handles the key once and waits: no spin', async () => {
    let runs = 0;
    const queue = new WorkQueue({
      workers: 1,
      handler: () => {
        runs++;
        return Promise.resolve({ requeueAfterMs: YEARS_AWAY_MS });
      },
    });
    queue.start();
    queue.add('ns/far');
    // Real Node timers: before the fix, the requeue fired at once and this counted thousands of runs.
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(runs).toBe(1);
    expect(queue.size).toBe(1); // still scheduled, not forgotten
    await queue.shutdown();
  });

  it('passes only honourable delays to the timers', async () => {
    const { timers, delays } = manualTimers();
    const queue = new WorkQueue({
      workers: 1,
      timers,
      handler: () => Promise.resolve({ requeueAfterMs: YEARS_AWAY_MS }),
    });
    queue.start();
    queue.add('ns/far');
    await queue.idle();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(delays).toEqual([MAX_TIMER_MS]);
    await queue.shutdown();
  });
});
