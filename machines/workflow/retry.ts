/** Retrying a failed run on request: what is re-run, and why a request is refused. */
import {
  isNewRetryRequest,
  PENDING_RUN,
  retryRefusal,
  stepsToRetry,
  type WorkflowContext,
} from '../context.ts';
import type { WorkflowEvent } from '../events.ts';
import { mustRun, type Guard, type Update } from './scope.ts';

const isNew = (context: WorkflowContext, event: WorkflowEvent): boolean =>
  event.type === 'RETRY_REQUESTED' && isNewRetryRequest(context, event.request);

const newRetryRequest: Guard = (_, { context, event }) => isNew(context, event);

const retryAllowed: Guard = (_, { context, event }) =>
  isNew(context, event) && retryRefusal(context, true) === null;

export const retryGuards = { newRetryRequest, retryAllowed };

/** Failed and skipped steps start over (attempts continue); succeeded ones are kept. */
const beginRetry: Update = (_, { context, event }) => {
  if (event.type !== 'RETRY_REQUESTED') return {};
  const rerun = stepsToRetry(context);
  const steps = { ...context.steps };
  for (const n of rerun) steps[String(n)] = { ...PENDING_RUN, attempt: mustRun(context, n).attempt };
  return {
    steps,
    retries: [
      ...context.retries,
      {
        request: event.request,
        by: event.by,
        at: event.now,
        steps: rerun.map((n) => ({ step: n, attemptsBefore: mustRun(context, n).attempt })),
      },
    ],
    failure: null,
    abort: null,
    outcome: null,
    rollbackReason: null,
    rollbackTrigger: null,
    times: { ...context.times, monitoring: null, rollingBack: null, finished: null },
  };
};

export interface RetryRefusalParams {
  finishedFailed: boolean;
}

const refuseRetry: Update<RetryRefusalParams> = ({ plan, text }, { context, event }, { finishedFailed }) => {
  const code = retryRefusal(context, finishedFailed);
  return event.type === 'RETRY_REQUESTED' && code !== null
    ? {
        retryRefusal: {
          request: event.request,
          by: event.by,
          at: event.now,
          code,
          message: text.retryRefused(code, { plan, context, event }),
        },
      }
    : {};
};

export const retryActions = { beginRetry, refuseRetry };
