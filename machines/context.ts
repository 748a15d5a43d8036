/**
 * The workflow statechart's context: small, plain JSON (it is persisted in the resource's status),
 * and the pure rules that read it. Absent values are `null`, never `undefined`, so a JSON round
 * trip gives back exactly the same object.
 */
import type { StepExecutionResult } from '../src/api/generated/types.ts';
import type {
  AdmissionBlock,
  AlertmanagerState,
  EffectivenessObservation,
  Outcome,
  SafetyCheckResult,
  WorkflowEvent,
} from './events.ts';
import type { ExecutionPlan, LearnedKind, PlannedStep } from './plan.ts';
import { LIMITS, type RETRY_REFUSALS } from '../src/api/schema/workflowexecution.ts';
import type { StopEnd, StopReason } from '../src/api/stop-request.ts';

export type StepStatus = 'pending' | 'running' | 'backoff' | 'succeeded' | 'failed' | 'skipped';
export type RollbackStatus = 'running' | 'rolledBack' | 'failed';

export interface StepRollback {
  status: RollbackStatus;
  startedAt: number;
  finishedAt: number | null;
  message: string | null;
}

export interface StepRun {
  status: StepStatus;
  /** The current or last attempt, from 1; 0 before the first. */
  attempt: number;
  /** When the current or last attempt started. */
  startedAt: number | null;
  finishedAt: number | null;
  /** While in backoff: when the next attempt may start. */
  retryAt: number | null;
  message: string | null;
  result: StepExecutionResult | null;
  rollback: StepRollback | null;
}

/** Machine-readable failure reasons (CamelCase, for conditions and events). */
export type FailureCode =
  | 'PlanningTimeout'
  | 'SafetyCheckFailed'
  | 'DryRunFailed'
  | 'Rejected'
  | 'ValidationTimeout'
  | 'CriticalStepFailed'
  | 'Cancelled'
  | 'RollbackFailed'
  | 'Ineffective'
  /** Monitoring's deadline passed while the alert the run remediates (spec.alertRef) still fired. */
  | 'AlertStillFiring'
  /** Validation's deadline passed while the run waited for a target lock or a storm limit. */
  | 'Blocked';

export type AbortCode = 'CriticalStepFailed' | 'Cancelled';

/** What started a rollback: the abort that preceded it, or a request once the run had failed. */
export type RollbackTrigger = 'criticalStepFailed' | 'cancelled' | 'requested';

/** The failures decided during validation (the specification's validation failures). */
export const VALIDATION_FAILURES: readonly FailureCode[] = [
  'SafetyCheckFailed',
  'DryRunFailed',
  'Rejected',
  'ValidationTimeout',
  'Blocked',
];

export type WorkflowOutcome = 'success' | 'partial_success' | 'unknown' | 'ineffective' | 'failed';

export interface PhaseTimes {
  planning: number | null;
  validating: number | null;
  executing: number | null;
  monitoring: number | null;
  rollingBack: number | null;
  finished: number | null;
}

export interface SafetyRecord extends SafetyCheckResult {
  checkedAt: number;
}

export interface DryRunRecord {
  outcome: Outcome;
  message: string | null;
  at: number;
}

export interface EffectivenessRecord extends EffectivenessObservation {
  at: number;
  /**
   * Since when every check found the run fixed (targets healthy, its alert resolved), without a
   * check in between that did not: the stability window counts from here. null: not fixed now.
   */
  stableSince: number | null;
}

/** Alertmanager as the latest check that asked found it (validation's, then each monitoring poll). */
export interface AlertmanagerRecord {
  state: AlertmanagerState;
  at: number;
}

/**
 * A decision taken at run time for a step about to start (`dynamicStepAdjustment`): raised retries,
 * a longer timeout, or a flag that changes nothing. Taken once and kept: it travels in the snapshot.
 */
export interface RunTimeAdjustment {
  kind: Extract<LearnedKind, 'retries' | 'timeout' | 'flag'>;
  step: number;
  /** Before: retries or milliseconds; for a flag, the success rate of the steps it rests on. */
  from: number;
  /** After; null for a flag. */
  to: number | null;
  /** The steps of this run it rests on (the same action on the same target). */
  runs: number;
  reason: string;
  at: number;
}

/** Why a retry request changed nothing (the schema's list). */
export type RetryRefusalCode = (typeof RETRY_REFUSALS)[number];

/** A step a retry re-ran, and the attempts it had made before: its retries count from there. */
export interface RetriedStep {
  step: number;
  attemptsBefore: number;
}

/** An accepted retry of the failed run: the start of a new run segment. */
export interface RetryRecord {
  request: string;
  by: string;
  at: number;
  steps: RetriedStep[];
}

export interface RetryRefusal {
  request: string;
  by: string;
  at: number;
  code: RetryRefusalCode;
  message: string;
}

/** Why the run waits to start executing, since when (the first block of this wait). */
export interface AdmissionRecord {
  block: AdmissionBlock;
  since: number;
}

export type { StopEnd, StopReason };

/**
 * A step attempt the run asked to stop (src/api/stop-request.ts): one that timed out, or every running
 * one when the workflow is cancelled. While it is awaited (`ended` null) that step is not attempted
 * again, the steps after it do not start, and executing does not end (no rollback, no monitoring).
 */
export interface StopRecord {
  step: number;
  attempt: number;
  reason: StopReason;
  /** When the run asked. */
  at: number;
  ended: StopEnd | null;
  endedAt: number | null;
}

export interface WorkflowContext {
  /** Keyed by step number. */
  steps: Record<string, StepRun>;
  /** Run-time adjustments, in the order they were decided. */
  adjustments: RunTimeAdjustment[];
  times: PhaseTimes;
  failure: { code: FailureCode; message: string } | null;
  /** Set when no new step may start (critical failure or cancellation). */
  abort: { code: AbortCode; message: string; at: number } | null;
  rollbackReason: string | null;
  rollbackTrigger: RollbackTrigger | null;
  approval: { by: string; at: number } | null;
  safety: SafetyRecord[] | null;
  /** Set while the run waits to start executing (a target locked by another run, a storm limit). */
  admission: AdmissionRecord | null;
  /** Keyed by step number. */
  dryRun: Record<string, DryRunRecord>;
  effectiveness: EffectivenessRecord | null;
  /** Alertmanager's reachability, once asked; null when it was never asked. */
  alertmanager: AlertmanagerRecord | null;
  outcome: WorkflowOutcome | null;
  /** Accepted retries of the failed run, oldest first. */
  retries: RetryRecord[];
  /** The last retry request refused. */
  retryRefusal: RetryRefusal | null;
  /** Attempts asked to stop, in the order asked. */
  stops: StopRecord[];
}

export interface WorkflowInput {
  now: number;
}

/** A step that has not started. */
export const PENDING_RUN: Readonly<StepRun> = {
  status: 'pending',
  attempt: 0,
  startedAt: null,
  finishedAt: null,
  retryAt: null,
  message: null,
  result: null,
  rollback: null,
};

export function initialContext(plan: ExecutionPlan, now: number): WorkflowContext {
  return {
    steps: Object.fromEntries(plan.steps.map((s) => [String(s.number), { ...PENDING_RUN }])),
    adjustments: [],
    times: {
      planning: now,
      validating: null,
      executing: null,
      monitoring: null,
      rollingBack: null,
      finished: null,
    },
    failure: null,
    abort: null,
    rollbackReason: null,
    rollbackTrigger: null,
    approval: null,
    safety: null,
    admission: null,
    dryRun: {},
    effectiveness: null,
    alertmanager: null,
    outcome: null,
    retries: [],
    retryRefusal: null,
    stops: [],
  };
}

/** The time an event was observed; `xstate.init` carries it in its input. */
export function nowOf(event: WorkflowEvent | { type: string }): number | null {
  if ('now' in event && typeof event.now === 'number') return event.now;
  if ('input' in event) {
    const input = event.input as { now?: unknown } | undefined;
    if (input && typeof input.now === 'number') return input.now;
  }
  return null;
}

export const runOf = (context: WorkflowContext, step: number): StepRun | undefined =>
  context.steps[String(step)];

export const isSettled = (status: StepStatus): boolean =>
  status === 'succeeded' || status === 'failed' || status === 'skipped';

/**
 * Remembered per `steps` object, which the machine replaces on every change and never mutates:
 * XState evaluates the executing state's eventless guards once per active step region, so without
 * it every event cost O(steps²) (at 150 steps, 70 % of the operator's CPU).
 */
const settledSteps = new WeakMap<WorkflowContext['steps'], boolean>();

export function allSettled(context: WorkflowContext): boolean {
  let settled = settledSteps.get(context.steps);
  if (settled === undefined) {
    settled = Object.values(context.steps).every((s) => isSettled(s.status));
    settledSteps.set(context.steps, settled);
  }
  return settled;
}

/** A step as this run has it: its plan, with the retries and timeout adjusted at run time. */
export function effectiveStep(step: PlannedStep, context: WorkflowContext): PlannedStep {
  let effective = step;
  for (const a of context.adjustments) {
    if (a.step !== step.number || a.to === null) continue;
    if (a.kind === 'retries') effective = { ...effective, maxRetries: a.to };
    if (a.kind === 'timeout') effective = { ...effective, timeoutMs: a.to };
  }
  return effective;
}

/** When the step's running attempt times out (its effective timeout); null when none runs. */
export function attemptDeadline(context: WorkflowContext, step: PlannedStep): number | null {
  const run = runOf(context, step.number);
  return run?.status === 'running' && run.startedAt !== null
    ? run.startedAt + effectiveStep(step, context).timeoutMs
    : null;
}

/** No running attempt has passed its deadline: finished attempts are settled before new launches. */
export function noOverdueAttempt(plan: ExecutionPlan, context: WorkflowContext, now: number): boolean {
  return plan.steps.every((step) => {
    const deadline = attemptDeadline(context, step);
    return deadline === null || now < deadline;
  });
}

/**
 * Whether the step's dependencies let it start: data dependencies must have succeeded; steps before
 * it in an implicit sequence must have settled, a failed one included (PlannedStep.dependencyKind).
 */
export function dependenciesMet(step: PlannedStep, context: WorkflowContext): boolean {
  return step.dependsOn.every((d) => {
    const status = runOf(context, d)?.status;
    return status === 'succeeded' || (step.dependencyKind === 'order' && status === 'failed');
  });
}

/** A data dependency failed or was skipped: the step never starts. A sequence never blocks by itself. */
export function dependencyBlocked(step: PlannedStep, context: WorkflowContext): boolean {
  return (
    step.dependencyKind === 'data' &&
    step.dependsOn.some((d) => {
      const status = runOf(context, d)?.status;
      return status === 'failed' || status === 'skipped';
    })
  );
}

/** The stop request of this step attempt the run still waits on, if any. */
export const awaitedStop = (
  context: WorkflowContext,
  step: number,
  attempt: number,
): StopRecord | undefined =>
  context.stops.find((s) => s.step === step && s.attempt === attempt && s.ended === null);

/** Whether an attempt of one of these steps (all steps: none given) was asked to stop and may still act. */
export const stopAwaited = (context: WorkflowContext, steps?: readonly number[]): boolean =>
  context.stops.some((s) => s.ended === null && (steps === undefined || steps.includes(s.step)));

/** When the run stops waiting for this stop request's answer. */
export const stopGraceEnd = (plan: ExecutionPlan, stop: StopRecord): number => stop.at + plan.stopGraceMs;

/** Exponential backoff before attempt n+1, from the plan's base, doubling, capped. */
export function backoffMs(plan: ExecutionPlan, failedAttempt: number): number {
  const exponent = Math.max(0, failedAttempt - 1);
  return Math.min(plan.backoff.maxMs, plan.backoff.baseMs * 2 ** Math.min(exponent, 30));
}

/** Steps that would be rolled back now: succeeded, with a rollback, not rolled back yet. */
export function rollbackCandidates(plan: ExecutionPlan, context: WorkflowContext): number[] {
  const byNumber = new Map(plan.steps.map((s) => [s.number, s]));
  return plan.rollbackOrder.filter((n) => {
    const run = runOf(context, n);
    return byNumber.get(n)?.rollback != null && run?.status === 'succeeded' && run.rollback === null;
  });
}

export function hasRollbackWork(plan: ExecutionPlan, context: WorkflowContext): boolean {
  return rollbackCandidates(plan, context).length > 0;
}

/** Secret values never enter the context: update-secret results lose their values. */
export function sanitizeResult(step: PlannedStep, result: StepExecutionResult): StepExecutionResult {
  const copy: StepExecutionResult = JSON.parse(JSON.stringify(result)) as StepExecutionResult;
  if (step.action === 'update-secret' && copy.updateResult) {
    delete copy.updateResult.previousValue;
    delete copy.updateResult.newValue;
  }
  return copy;
}

/**
 * The one decision about a set of safety check results. A required check that failed is a verdict;
 * a check that errored (could not run) is none: it is asked again until validation's deadline.
 */
export function safetyVerdict(results: readonly SafetyCheckResult[]): 'passed' | 'failed' | 'inconclusive' {
  if (results.some(requiredCheckFailed)) return 'failed';
  if (results.some((r) => r.result === 'error')) return 'inconclusive';
  return 'passed';
}

export const requiredCheckFailed = (r: SafetyCheckResult): boolean => r.required && r.result === 'failed';

export const describeStep = (step: PlannedStep): string => `step ${step.number} (${step.name})`;

/** The run segment the context is in: 1 for the first run, one more for each accepted retry. */
export const segmentOf = (context: WorkflowContext): number => context.retries.length + 1;

/** Attempts a step had made before the latest retry that re-ran it: its retries count from there. */
export function attemptsBeforeRetry(context: WorkflowContext, step: number): number {
  for (let i = context.retries.length - 1; i >= 0; i--) {
    const rerun = context.retries[i]?.steps.find((s) => s.step === step);
    if (rerun) return rerun.attemptsBefore;
  }
  return 0;
}

/** A retry request not decided on yet: neither accepted nor refused before. */
export const isNewRetryRequest = (context: WorkflowContext, request: string): boolean =>
  context.retryRefusal?.request !== request && !context.retries.some((r) => r.request === request);

/** The steps a retry re-runs: those that failed or never started. */
export const stepsToRetry = (context: WorkflowContext): number[] =>
  Object.entries(context.steps)
    .filter(([, run]) => run.status === 'failed' || run.status === 'skipped')
    .map(([n]) => Number(n))
    .sort((a, b) => a - b);

/** Steps whose rollback started: what they did is undone (or half undone), so none is retried. */
export const stepsRolledBack = (context: WorkflowContext): number[] =>
  Object.entries(context.steps)
    .filter(([, run]) => run.rollback !== null)
    .map(([n]) => Number(n))
    .sort((a, b) => a - b);

/**
 * Why a retry of this run is refused, or null when it may run. `finishedFailed`: the machine is in
 * `failed`; elsewhere the run is in flight, or completed once it records its end.
 */
export function retryRefusal(context: WorkflowContext, finishedFailed: boolean): RetryRefusalCode | null {
  if (!finishedFailed) return context.times.finished === null ? 'InFlight' : 'Completed';
  if (context.retries.length >= LIMITS.runRetries) return 'TooManyRetries';
  if (stepsRolledBack(context).length > 0) return 'RolledBack';
  if (context.failure?.code !== 'CriticalStepFailed' || stepsToRetry(context).length === 0)
    return 'NotRetryable';
  return null;
}
