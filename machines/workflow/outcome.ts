/** How a run ends: its failure with a code, its outcome when it completes, and when it finished. */
import type { FailureCode } from '../context.ts';
import { now, type Update } from './scope.ts';

export interface FailParams {
  code: FailureCode;
}

const fail: Update<FailParams> = ({ plan, text }, { context, event }, { code }) => ({
  failure: { code, message: text.failure(code, { plan, context, event }) },
  outcome:
    code === 'Ineffective' || code === 'AlertStillFiring' ? ('ineffective' as const) : ('failed' as const),
});

/**
 * Effective: every step succeeded or not; monitoring's deadline passed, or nothing could be verified
 * (src/core/status-conditions.ts says which): unknown.
 */
const complete: Update<{ verdict: 'effective' | 'deadline' | 'unverifiable' }> = (
  _,
  { context },
  { verdict },
) => ({
  outcome:
    verdict !== 'effective'
      ? ('unknown' as const)
      : Object.values(context.steps).every((s) => s.status === 'succeeded')
        ? ('success' as const)
        : ('partial_success' as const),
});

/** The first time it finished (a retried run finishes again: `beginRetry` clears it). */
const finish: Update = (_, { context, event }) =>
  context.times.finished === null ? { times: { ...context.times, finished: now(event) } } : {};

export const outcomeActions = { fail, complete, finish };
