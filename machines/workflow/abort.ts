/**
 * Stopping a run: a cancel request or a critical step's failure aborts it; once every step settled,
 * executing ends, in a rollback, a failure or monitoring.
 */
import {
  allSettled,
  hasRollbackWork,
  stopAwaited,
  type AbortCode,
  type FailureCode,
  type WorkflowContext,
} from '../context.ts';
import type { Guard, Update } from './scope.ts';

const aborting: Guard = (_, { context }) => context.abort !== null;

const notAborting: Guard = (_, { context }) => context.abort === null;

/**
 * Every step settled, and no attempt asked to stop may still act (stops.ts): only then does executing
 * end, so a rollback never runs under an attempt, and monitoring never judges one still acting.
 */
const done = (context: WorkflowContext): boolean => allSettled(context) && !stopAwaited(context);

const settledAbortedWithRollback: Guard = ({ plan }, { context }) =>
  done(context) && context.abort !== null && hasRollbackWork(plan, context);

const settledAborted: Guard = (_, { context }) => done(context) && context.abort !== null;

const settledClean: Guard = (_, { context }) => done(context) && context.abort === null;

export const abortGuards = {
  aborting,
  notAborting,
  settledAbortedWithRollback,
  settledAborted,
  settledClean,
};

const requestCancel: Update = ({ text }, { event }) =>
  event.type === 'CANCEL_REQUESTED'
    ? { abort: { code: 'Cancelled' as AbortCode, message: text.cancelled(event.by), at: event.now } }
    : {};

/** The abort becomes the run's failure. */
const settleAbort: Update = (_, { context }) =>
  context.abort
    ? {
        failure: { code: context.abort.code as FailureCode, message: context.abort.message },
        outcome: 'failed' as const,
      }
    : {};

export const abortActions = { requestCancel, settleAbort };
