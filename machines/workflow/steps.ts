/**
 * A step's region while executing: when it starts, is skipped or kept, what its attempt's result or
 * deadline decides (a retry after backoff while retries are left, else a final failure), and what
 * each of these records on its run.
 */
import {
  attemptDeadline,
  backoffMs,
  dependenciesMet,
  dependencyBlocked,
  noOverdueAttempt,
  nowOf,
  runOf,
  sanitizeResult,
  stopAwaited,
  type AbortCode,
  type WorkflowContext,
} from '../context.ts';
import type { WorkflowEvent } from '../events.ts';
import {
  effectiveOf,
  mustRun,
  now,
  segmentAttempt,
  withRun,
  type Guard,
  type Scope,
  type StepParams,
  type Update,
} from './scope.ts';

/** The result reported for the step's current attempt, if this event is one. */
const currentResult = (context: WorkflowContext, event: WorkflowEvent, n: number) =>
  event.type === 'STEP_RESULT' &&
  event.step === n &&
  runOf(context, n)?.status === 'running' &&
  event.attempt === runOf(context, n)?.attempt
    ? event
    : null;

const retriesLeft = (scope: Scope, context: WorkflowContext, n: number): boolean =>
  context.abort === null && segmentAttempt(context, n) <= effectiveOf(scope, context, n).maxRetries;

const isOverdue = (scope: Scope, context: WorkflowContext, event: WorkflowEvent, n: number): boolean => {
  const deadline = attemptDeadline(context, scope.stepOf(n));
  const t = nowOf(event);
  return deadline !== null && t !== null && t >= deadline;
};

/** Nothing will start it: the run aborts, or a dependency failed or was skipped. */
const blocked: Guard<StepParams> = ({ stepOf }, { context }, { step }) =>
  context.abort !== null || dependencyBlocked(stepOf(step), context);

/** Its dependencies let it, and no attempt of theirs asked to stop may still act (stops.ts). */
const canStart: Guard<StepParams> = ({ plan, stepOf }, { context, event }, { step }) =>
  context.abort === null &&
  dependenciesMet(stepOf(step), context) &&
  !stopAwaited(context, stepOf(step).dependsOn) &&
  noOverdueAttempt(plan, context, now(event));

/** Entered again by a retry of the run: a step that succeeded before is kept. */
const kept: Guard<StepParams> = (_, { context }, { step }) => runOf(context, step)?.status === 'succeeded';

const resultSucceeded: Guard<StepParams> = (_, { context, event }, { step }) =>
  currentResult(context, event, step)?.outcome === 'succeeded';

const resultFailed: Guard<StepParams> = (_, { context, event }, { step }) =>
  currentResult(context, event, step)?.outcome === 'failed';

const resultFailedWithRetry: Guard<StepParams> = (scope, args, params) =>
  resultFailed(scope, args, params) && retriesLeft(scope, args.context, params.step);

const overdue: Guard<StepParams> = (scope, { context, event }, { step }) =>
  isOverdue(scope, context, event, step);

const overdueWithRetry: Guard<StepParams> = (scope, { context, event }, { step }) =>
  isOverdue(scope, context, event, step) && retriesLeft(scope, context, step);

/**
 * Its backoff is over, and nothing stops a new attempt: in particular the attempt before, if it was
 * asked to stop, acknowledged or its grace period passed (stops.ts).
 */
const retryDue: Guard<StepParams> = ({ plan }, { context, event }, { step }) => {
  const retryAt = runOf(context, step)?.retryAt ?? null;
  const t = nowOf(event);
  return (
    context.abort === null &&
    retryAt !== null &&
    t !== null &&
    t >= retryAt &&
    !stopAwaited(context, [step]) &&
    noOverdueAttempt(plan, context, t)
  );
};

export const stepGuards = {
  blocked,
  canStart,
  kept,
  resultSucceeded,
  resultFailedWithRetry,
  resultFailed,
  overdueWithRetry,
  overdue,
  retryDue,
};

/** What a failed or timed-out attempt leaves on its step, whatever is decided next. */
function failedAttempt(scope: Scope, context: WorkflowContext, event: WorkflowEvent, n: number) {
  const planned = effectiveOf(scope, context, n);
  const run = mustRun(context, n);
  const reported =
    (event.type === 'STEP_RESULT' || event.type === 'STEP_STOPPED') && event.step === n ? event : null;
  const unsaid =
    event.type === 'STEP_STOPPED'
      ? scope.text.attemptStopped(run.attempt)
      : scope.text.attemptFailed(run.attempt);
  return {
    finishedAt: now(event),
    message: reported ? (reported.message ?? unsaid) : scope.text.attemptTimedOut(run.attempt, planned),
    result: reported?.result ? sanitizeResult(planned, reported.result) : run.result,
  };
}

const enterExecuting: Update = (_, { context, event }) => ({
  times: { ...context.times, executing: now(event) },
});

const startAttempt: Update<StepParams> = ({ plan, rules, stepOf }, { context, event }, { step }) => {
  const first = mustRun(context, step).attempt === 0;
  // Decided once, as the step is about to start, from what this run's earlier steps did.
  const decided =
    first && plan.dynamicStepAdjustment ? rules.beforeFirstAttempt(stepOf(step), plan, context) : [];
  return {
    steps: withRun(context, step, {
      status: 'running',
      attempt: mustRun(context, step).attempt + 1,
      startedAt: now(event),
      finishedAt: null,
      retryAt: null,
    }),
    ...(decided.length > 0
      ? { adjustments: [...context.adjustments, ...decided.map((a) => ({ ...a, at: now(event) }))] }
      : {}),
  };
};

const recordSuccess: Update<StepParams> = ({ stepOf }, { context, event }, { step }) => {
  const result =
    event.type === 'STEP_RESULT' && event.result ? sanitizeResult(stepOf(step), event.result) : null;
  return {
    steps: withRun(context, step, {
      status: 'succeeded',
      finishedAt: now(event),
      message: event.type === 'STEP_RESULT' ? (event.message ?? null) : null,
      result,
    }),
  };
};

const recordRetry: Update<StepParams> = (scope, { context, event }, { step }) => ({
  steps: withRun(context, step, {
    ...failedAttempt(scope, context, event, step),
    status: 'backoff',
    retryAt: now(event) + backoffMs(scope.plan, segmentAttempt(context, step)),
  }),
});

/** The step failed for good; a critical one aborts the run. */
const recordFinalFailure: Update<StepParams> = (scope, { context, event }, { step }) => {
  const planned = scope.stepOf(step);
  const failed = failedAttempt(scope, context, event, step);
  const abort =
    planned.critical && context.abort === null
      ? {
          code: 'CriticalStepFailed' as AbortCode,
          message: scope.text.criticalStepFailed(planned, failed.message),
          at: failed.finishedAt,
        }
      : context.abort;
  return { steps: withRun(context, step, { ...failed, status: 'failed' }), abort };
};

const skip: Update<StepParams> = ({ stepOf, text }, { context, event }, { step }) => ({
  steps: withRun(context, step, {
    status: 'skipped',
    finishedAt: now(event),
    message: text.notStarted(
      stepOf(step),
      context.abort?.code ?? null,
      stepOf(step).dependsOn.filter((d) => ['failed', 'skipped'].includes(runOf(context, d)?.status ?? '')),
    ),
  }),
});

/** A step backing off while the run aborts is not retried. */
const abandon: Update<StepParams> = ({ text }, { context, event }, { step }) => ({
  steps: withRun(context, step, {
    status: 'failed',
    retryAt: null,
    finishedAt: now(event),
    message: text.notRetried(mustRun(context, step).message, context.abort?.code ?? null),
  }),
});

export const stepActions = {
  enterExecuting,
  startAttempt,
  recordSuccess,
  recordRetry,
  recordFinalFailure,
  skip,
  abandon,
};
