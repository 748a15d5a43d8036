/**
 * Timers for any delay. Node's timers hold at most 2^31-1 ms (about 24.8 days) and fire at once
 * beyond that (TimeoutOverflowWarning), so a deadline a month away would requeue immediately,
 * forever. Every timer in the shell goes through here: a long wait is a chain of shorter ones.
 */

/** The longest delay Node's setTimeout honours. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** What the chain needs from the platform; injected by tests to watch every delay handed to Node. */
export interface TimerFunctions {
  setTimeout: (callback: () => void, ms: number) => { unref?: () => unknown };
  clearTimeout: (handle: never) => void;
}

const nodeTimers: TimerFunctions = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => {
    clearTimeout(handle);
  },
};

export interface LongTimeout {
  cancel(): void;
}

export interface LongTimeoutOptions {
  /** Let the process exit while this timer waits (default true: a requeue never holds a process up). */
  unref?: boolean;
  timers?: TimerFunctions;
}

/**
 * A delay as the shell may wait it: NaN and negatives mean now, anything finite is honoured,
 * +Infinity means never.
 */
export function normalizeDelay(ms: number): number {
  if (Number.isNaN(ms) || ms <= 0) return 0;
  return ms;
}

/** Calls `callback` once after `ms`, however large; `Infinity` waits until cancelled. */
export function setLongTimeout(
  callback: () => void,
  ms: number,
  options: LongTimeoutOptions = {},
): LongTimeout {
  const timers = options.timers ?? nodeTimers;
  let remaining = normalizeDelay(ms);
  let handle: { unref?: () => unknown } | undefined;
  let cancelled = false;
  const arm = (): void => {
    if (cancelled) return;
    if (remaining === Number.POSITIVE_INFINITY) {
      // Never due: nothing to schedule, nothing that could fire early.
      handle = undefined;
      return;
    }
    const step = Math.min(remaining, MAX_TIMER_MS);
    remaining -= step;
    handle = timers.setTimeout(() => {
      handle = undefined;
      if (cancelled) return;
      if (remaining > 0) arm();
      else callback();
    }, step);
    if (options.unref !== false) handle.unref?.();
  };
  arm();
  return {
    cancel() {
      cancelled = true;
      if (handle) timers.clearTimeout(handle as never);
      handle = undefined;
    },
  };
}
