/**
 * When a status change must be written. Each status write rewrites the whole workflow, whose size
 * grows with its steps, so writing every step's start and success makes a long chain quadratic
 * for the apiserver. Step progress (a start, a success, a skip) may instead wait a short while and
 * share one write with the progress after it; everything else (a phase change, a failure, a retry,
 * a decision) is written at once, with what waited before it.
 *
 * Waiting is safe because progress is re-derived from the cluster: a child's name is deterministic,
 * so it is created before the write that records it, and an operator that stops before that write
 * finds the child (and its result) when it observes again.
 */
import type { Transition } from './transitions.ts';

/** How long step progress may wait for a status write by default. */
export const PROGRESS_WRITE_DELAY_MS = 1000;

const PROGRESS: ReadonlySet<string> = new Set(['started', 'succeeded', 'skipped']);

/** A start, success or skip of a step: progress that may share a later status write. */
export const isStepProgress = (t: Transition): boolean => t.kind === 'step' && PROGRESS.has(t.outcome);

export type StatusWrite =
  /** Write now (also when nothing changed: the caller then finds nothing to write). */
  | { now: true }
  /** Only progress so far: write at the latest this many ms from now. */
  | { now: false; inMs: number };

/**
 * Whether the transitions since the last write (`happened`) must be written now. `waitingSince` is
 * when the oldest unwritten progress happened (`now` when none waited so far).
 */
export function statusWrite(
  happened: readonly Transition[],
  waitingSince: number,
  now: number,
  delayMs: number,
): StatusWrite {
  if (happened.length === 0 || delayMs <= 0 || !happened.every(isStepProgress)) return { now: true };
  const due = waitingSince + delayMs;
  return due <= now ? { now: true } : { now: false, inMs: due - now };
}
