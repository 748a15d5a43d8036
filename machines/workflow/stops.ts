/**
 * Stopping attempts (src/api/stop-request.ts, DESIGN 12): an attempt that timed out, and every running
 * attempt of a cancelled run, is asked to stop; the run records the answer (the child ended `stopped`,
 * or `completed` or `failed` anyway) or, once the grace period passed without one, goes on without it.
 * While a stop is awaited the step is not attempted again, the steps after it wait, and executing does
 * not end (src/core/effects.ts asks the executor; the guards of steps.ts and abort.ts wait).
 */
import { awaitedStop, nowOf, runOf, stopGraceEnd, type StopEnd, type StopRecord } from '../context.ts';
import type { WorkflowEvent } from '../events.ts';
import { mustRun, now, type Guard, type StepParams, type Update } from './scope.ts';

/** The attempt an event reports the end of, and how it ended; null for any other event. */
function answerOf(event: WorkflowEvent): { step: number; attempt: number; ended: StopEnd } | null {
  if (event.type === 'STEP_STOPPED') return { step: event.step, attempt: event.attempt, ended: 'stopped' };
  if (event.type === 'STEP_RESULT')
    return {
      step: event.step,
      attempt: event.attempt,
      ended: event.outcome === 'succeeded' ? 'completed' : 'failed',
    };
  return null;
}

/** The event ends an attempt the run asked to stop and still waits on. */
const stopAnswered: Guard = (_, { context, event }) => {
  const answer = answerOf(event);
  return answer !== null && awaitedStop(context, answer.step, answer.attempt) !== undefined;
};

/** An awaited stop's grace period has passed by the event's time. */
const stopGracePassed: Guard = ({ plan }, { context, event }) => {
  const t = nowOf(event);
  return t !== null && context.stops.some((s) => s.ended === null && t >= stopGraceEnd(plan, s));
};

/** The running attempt of this step acknowledged a stop request: it ended without a result. */
const stoppedCurrent: Guard<StepParams> = (_, { context, event }, { step }) =>
  event.type === 'STEP_STOPPED' &&
  event.step === step &&
  runOf(context, step)?.status === 'running' &&
  event.attempt === runOf(context, step)?.attempt;

export const stopGuards = { stopAnswered, stopGracePassed, stoppedCurrent };

/** Asks the step's current attempt to stop: it outlived its timeout. Once per attempt. */
const askToStop: Update<StepParams> = (_, { context, event }, { step }) => {
  const attempt = mustRun(context, step).attempt;
  if (context.stops.some((s) => s.step === step && s.attempt === attempt)) return {};
  const record: StopRecord = {
    step,
    attempt,
    reason: 'AttemptTimedOut',
    at: now(event),
    ended: null,
    endedAt: null,
  };
  return { stops: [...context.stops, record] };
};

/** The run is cancelled: every running attempt is asked to stop. */
const askRunningToStop: Update = ({ plan }, { context, event }) => {
  const asked: StopRecord[] = [];
  for (const { number: step } of plan.steps) {
    const run = runOf(context, step);
    if (run?.status !== 'running' || context.stops.some((s) => s.step === step && s.attempt === run.attempt))
      continue;
    asked.push({
      step,
      attempt: run.attempt,
      reason: 'WorkflowCancelled',
      at: now(event),
      ended: null,
      endedAt: null,
    });
  }
  return asked.length === 0 ? {} : { stops: [...context.stops, ...asked] };
};

/** The answer to a stop request: how the attempt ended. */
const acknowledgeStop: Update = (_, { context, event }) => {
  const answer = answerOf(event);
  if (answer === null || awaitedStop(context, answer.step, answer.attempt) === undefined) return {};
  return {
    stops: context.stops.map((s) =>
      s.step === answer.step && s.attempt === answer.attempt && s.ended === null
        ? { ...s, ended: answer.ended, endedAt: now(event) }
        : s,
    ),
  };
};

/** No answer within the grace period: the run goes on without one. */
const giveUpStops: Update = ({ plan }, { context, event }) => ({
  stops: context.stops.map((s) =>
    s.ended === null && now(event) >= stopGraceEnd(plan, s)
      ? { ...s, ended: 'gracePassed' as const, endedAt: now(event) }
      : s,
  ),
});

export const stopActions = { askToStop, askRunningToStop, acknowledgeStop, giveUpStops };
