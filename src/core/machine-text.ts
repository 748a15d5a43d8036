/**
 * The prose of the workflow statechart (machines/text.ts): every message it records in its context,
 * worded here from the typed facts the machine decided on.
 */
import { LIMITS } from '../api/schema/workflowexecution.ts';
import {
  describeStep,
  requiredCheckFailed,
  runOf,
  stepsRolledBack,
  type RetryRefusalCode,
} from '../../machines/context.ts';
import type { MachineText, TextInput } from '../../machines/text.ts';
import { describeBlock } from './target-locks.ts';

const seconds = (ms: number): string => (ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`);

const abortWords = (code: string | null): string =>
  code === 'Cancelled' ? 'the workflow was cancelled' : 'a critical step failed';

function rollbackFailure({ plan, context, event }: TextInput): string {
  const failedStep =
    (event.type === 'ROLLBACK_RESULT' ? event.step : null) ??
    plan.rollbackOrder.find((s) => runOf(context, s)?.rollback?.status === 'failed') ??
    null;
  const planned = plan.steps.find((s) => s.number === failedStep);
  const message = failedStep === null ? null : runOf(context, failedStep)?.rollback?.message;
  const which = planned ? ` of ${describeStep(planned)}${message ? `: ${message}` : ''}` : '';
  return `rollback${which} failed${context.failure ? ` (after: ${context.failure.message})` : ''}`;
}

function retryRefused(code: RetryRefusalCode, { context }: TextInput): string {
  switch (code) {
    case 'InFlight':
      return 'the run has not finished: only a failed run is retried';
    case 'Completed':
      return `the run completed (${context.outcome ?? 'unknown'}): there is nothing to retry`;
    case 'RolledBack': {
      const steps = stepsRolledBack(context);
      return `${steps.length === 1 ? 'step' : 'steps'} ${steps.join(', ')} ${steps.length === 1 ? 'was' : 'were'} rolled back: a retry keeps completed steps, and these are undone; create a new WorkflowExecution`;
    }
    case 'NotRetryable':
      return `the run failed with ${context.failure?.code ?? 'no failure'}${context.failure ? ` (${context.failure.message})` : ''}: only a run whose critical step failed is retried`;
    case 'TooManyRetries':
      return `the run was retried ${context.retries.length} times, the limit is ${LIMITS.runRetries}`;
  }
}

export const WORKFLOW_TEXT: MachineText = {
  failure(code, input) {
    const { plan, context, event } = input;
    switch (code) {
      case 'PlanningTimeout':
        return `planning did not finish within ${seconds(plan.timeouts.planningMs)}`;
      case 'ValidationTimeout':
        return `validation did not finish within ${seconds(plan.timeouts.validationMs)}`;
      case 'Blocked':
        return `validation did not finish within ${seconds(plan.timeouts.validationMs)}: still waiting to execute, ${context.admission ? describeBlock(context.admission.block) : 'blocked'}`;
      case 'SafetyCheckFailed': {
        const failing = event.type === 'SAFETY_RESULT' ? event.results.filter(requiredCheckFailed) : [];
        return `required safety check failed: ${failing.map((r) => `${r.type} ${r.result} (${r.message})`).join('; ')}`;
      }
      case 'DryRunFailed': {
        const step =
          event.type === 'DRYRUN_RESULT' ? plan.steps.find((s) => s.number === event.step) : undefined;
        return event.type === 'DRYRUN_RESULT' && step
          ? `dry run of ${describeStep(step)} failed${event.message ? `: ${event.message}` : ''}`
          : 'dry run failed';
      }
      case 'Rejected':
        return event.type === 'REJECTED' ? `rejected by ${event.by}` : 'rejected';
      case 'Cancelled':
        return event.type === 'CANCEL_REQUESTED' ? `cancelled by ${event.by}` : 'cancelled';
      case 'CriticalStepFailed':
        return context.abort?.message ?? 'a critical step failed';
      case 'RollbackFailed':
        return rollbackFailure(input);
      case 'Ineffective':
        return event.type === 'EFFECTIVENESS_RESULT'
          ? `new alerts concerning its targets fired after the remediation (effectiveness ${event.score ?? 'not scored'}, resources ${event.resourceHealth})`
          : 'new alerts fired after the remediation';
      case 'AlertStillFiring':
        return `the alert this run remediates was still firing at monitoring's deadline (${seconds(plan.timeouts.monitoringMs)}): the remediation did not resolve it`;
    }
  },
  attemptFailed: (attempt) => `attempt ${attempt} failed`,
  attemptTimedOut: (attempt, step) => `attempt ${attempt} timed out after ${seconds(step.timeoutMs)}`,
  attemptStopped: (attempt) => `attempt ${attempt} stopped on request`,
  criticalStepFailed: (step, message) => `critical ${describeStep(step)} failed: ${message}`,
  cancelled: (by) => `cancelled by ${by}`,
  notStarted: (_step, abort, failedDependencies) =>
    abort !== null
      ? `not started: ${abortWords(abort)}`
      : `not started: dependency ${failedDependencies.join(', ')} did not succeed`,
  notRetried: (previous, abort) => `${previous ?? 'failed'}; not retried: ${abortWords(abort)}`,
  rollbackReason: (trigger, { context, event }) =>
    trigger === 'requested'
      ? `rollback requested by ${event.type === 'ROLLBACK_REQUESTED' ? event.by : 'annotation'} after: ${context.failure?.message ?? 'failure'}`
      : `automatic rollback after: ${context.abort?.message ?? context.failure?.message ?? 'failure'}`,
  rollbackTimedOut: (step) => `rollback timed out after ${seconds(step.rollback?.timeoutMs ?? 0)}`,
  retryRefused,
};
