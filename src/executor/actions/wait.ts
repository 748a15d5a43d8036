/**
 * Waiting within an attempt: poll the apiserver until a condition holds, for as long as the attempt
 * lives (its AbortSignal ends the wait, on the attempt's deadline or a stop request), and say what
 * was still awaited when it stopped.
 */
import { ActionError, sleep, type ActionContext } from '../context.ts';

/** How often a wait looks again; kubectl's rollout status watches, drain polls every 1-5 s. */
export const POLL_INTERVAL_MS = 500;

/** The value once `check` yields one; `check` returns a string saying what it still waits for. */
export type Check<T> = () => Promise<{ done: true; value: T } | { done: false; waiting: string }>;

export async function waitFor<T>(
  ctx: Pick<ActionContext, 'signal'>,
  what: string,
  check: Check<T>,
): Promise<T> {
  let waiting = 'not looked yet';
  for (;;) {
    if (ctx.signal.aborted) throw stopped(what, waiting);
    const result = await check();
    if (result.done) return result.value;
    waiting = result.waiting;
    try {
      await sleep(POLL_INTERVAL_MS, ctx.signal);
    } catch {
      throw stopped(what, waiting);
    }
  }
}

const stopped = (what: string, waiting: string): ActionError =>
  new ActionError(`stopped while waiting for ${what}: ${waiting}`);
