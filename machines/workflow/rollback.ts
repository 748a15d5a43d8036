/** Rolling back, one step at a time in rollback order: each step's rollback, its result or deadline. */
import { runOf, type RollbackTrigger } from '../context.ts';
import { expired, mustRun, now, withRun, type Guard, type StepParams, type Update } from './scope.ts';

/** Nothing of this step's rollback is running (it never succeeded, or it was rolled back before). */
const rollbackNotNeeded: Guard<StepParams> = (_, { context }, { step }) =>
  runOf(context, step)?.rollback?.status !== 'running';

const rollbackOverdue: Guard<StepParams> = ({ stepOf }, { context, event }, { step }) => {
  const rb = runOf(context, step)?.rollback;
  const timeout = stepOf(step).rollback?.timeoutMs;
  return rb?.status === 'running' && timeout !== undefined && expired(rb.startedAt, timeout, event);
};

const rollbackSucceeded: Guard<StepParams> = (_, { context, event }, { step }) =>
  event.type === 'ROLLBACK_RESULT' &&
  event.step === step &&
  event.outcome === 'succeeded' &&
  runOf(context, step)?.rollback?.status === 'running';

const rollbackFailed: Guard<StepParams> = (_, { context, event }, { step }) =>
  event.type === 'ROLLBACK_RESULT' &&
  event.step === step &&
  event.outcome === 'failed' &&
  runOf(context, step)?.rollback?.status === 'running';

export const rollbackGuards = { rollbackNotNeeded, rollbackOverdue, rollbackSucceeded, rollbackFailed };

export interface RollbackParams {
  trigger: 'fromAbort' | 'requested';
}

const beginRollback: Update<RollbackParams> = ({ plan, text }, { context, event }, params) => {
  const trigger: RollbackTrigger =
    params.trigger === 'requested'
      ? 'requested'
      : context.abort?.code === 'Cancelled'
        ? 'cancelled'
        : 'criticalStepFailed';
  return {
    times: { ...context.times, rollingBack: now(event) },
    rollbackTrigger: trigger,
    rollbackReason: text.rollbackReason(trigger, { plan, context, event }),
  };
};

/** A requested rollback that waited for its target locks starts rolling back now (its reason kept). */
const resumeRollback: Update = (_, { context, event }) => ({
  times: { ...context.times, rollingBack: now(event) },
});

const startRollbackStep: Update<StepParams> = (_, { context, event }, { step }) => {
  const run = mustRun(context, step);
  return run.status === 'succeeded' && run.rollback === null
    ? {
        steps: withRun(context, step, {
          rollback: { status: 'running', startedAt: now(event), finishedAt: null, message: null },
        }),
      }
    : {};
};

/** The rollback's result, or its timeout. */
const recordRollback: Update<StepParams> = ({ stepOf, text }, { context, event }, { step }) => {
  const rb = mustRun(context, step).rollback;
  if (!rb) return {};
  const ok = event.type === 'ROLLBACK_RESULT' && event.outcome === 'succeeded';
  const message =
    event.type === 'ROLLBACK_RESULT' ? (event.message ?? null) : text.rollbackTimedOut(stepOf(step));
  return {
    steps: withRun(context, step, {
      rollback: { ...rb, status: ok ? 'rolledBack' : 'failed', finishedAt: now(event), message },
    }),
  };
};

export const rollbackActions = { beginRollback, resumeRollback, startRollbackStep, recordRollback };
