/**
 * What committed transitions mean for the outside world, as data: the Kubernetes Events to record
 * and the metric samples to take. Derived from typed fields of the plan and the committed context
 * (failure code, rollback trigger, adjustment kind), never from the prose of the status.
 */
import {
  runOf,
  VALIDATION_FAILURES,
  type FailureCode,
  type PhaseTimes,
  type RollbackTrigger,
} from '../../machines/context.ts';
import type { AdmissionBlock, AdmissionBlockReason } from '../../machines/events.ts';
import type { ExecutionPlan } from '../../machines/plan.ts';
import { describeBlock } from './target-locks.ts';
import type { Phase, WorkflowSnapshot } from '../../machines/workflow.ts';
import { describeIssues } from '../api/issues.ts';
import {
  adjustmentMetricType,
  learnedNotices,
  runTimeConsequences,
  type AdjustmentMetricType,
} from './adjustment-outcomes.ts';
import type { Loaded } from './load.ts';
import { monitoringVerdict, type MonitoringVerdict } from './monitoring-verdict.ts';
import { phaseOf } from './statechart.ts';
import { isProgress, type ProgressOutcome, type StepProgress } from './step-progress.ts';
import type { StepTransitionOutcome, Transition } from './transitions.ts';

export interface Notice {
  type: 'Normal' | 'Warning';
  /** CamelCase, e.g. `ExecutionStarted`, `StepSucceeded`. */
  reason: string;
  note: string;
  action: 'Plan' | 'Rehydrate' | 'Reconcile' | 'ExecuteStep';
  /** Structured fields for the log line that goes with it. */
  fields: Record<string, string | number | null>;
}

export type RollbackMetricReason = 'step_failure' | 'manual';
/** One metric observation; the shell adds the workflow's name and namespace labels. */
export type MetricSample =
  | { metric: 'phaseDuration'; phase: Phase; seconds: number }
  | { metric: 'executionsTotal'; outcome: string }
  | { metric: 'lifecycleDuration'; outcome: string; seconds: number }
  | { metric: 'effectivenessScore'; score: number }
  | { metric: 'validationFailuresTotal'; reason: FailureCode | 'InvalidSpec' }
  | { metric: 'rollbacksTotal'; reason: RollbackMetricReason }
  | { metric: 'workflowSteps'; steps: number }
  | { metric: 'adaptiveAdjustmentsTotal'; adjustmentType: AdjustmentMetricType }
  | { metric: 'stepsCompletedTotal'; action: string; status: 'success' | 'failed' }
  | { metric: 'retriesTotal'; result: 'accepted' | 'refused' }
  | { metric: 'admissionBlocksTotal'; reason: AdmissionBlockReason }
  | { metric: 'monitoringVerdictsTotal'; verdict: MonitoringVerdict };

export interface Consequences {
  /** Each its own Event: phase changes, failures, retries, rollbacks, refusals, what history taught. */
  notices: Notice[];
  /** Step outcomes for the shell to report in batches (`stepProgressNotice`). */
  progress: StepProgress[];
  /**
   * Whether steps may still progress (the workflow is executing): if not, what was batched is
   * reported now, before the notices (the phase change that ends the steps comes after them).
   */
  stepsContinue: boolean;
  metrics: MetricSample[];
}

const PHASE_NOTICES: Record<Phase, [Notice['type'], string]> = {
  planning: ['Normal', 'PlanningStarted'],
  validating: ['Normal', 'ValidationStarted'],
  executing: ['Normal', 'ExecutionStarted'],
  monitoring: ['Normal', 'MonitoringStarted'],
  rolling_back: ['Warning', 'RollbackStarted'],
  completed: ['Normal', 'WorkflowExecutionCompleted'],
  failed: ['Warning', 'WorkflowExecutionFailed'],
};

/** `StepFailed`, `StepRolledBack`, ...; a failed rollback is `RollbackFailed`. */
const stepNotice = (outcome: Exclude<StepTransitionOutcome, ProgressOutcome>): [Notice['type'], string] => [
  outcome === 'failed' || outcome === 'retrying' || outcome === 'rollbackFailed' ? 'Warning' : 'Normal',
  outcome === 'rollbackFailed'
    ? 'RollbackFailed'
    : `Step${outcome[0]?.toUpperCase() ?? ''}${outcome.slice(1)}`,
];

/** When the context records each phase began, to measure how long it lasted. */
const PHASE_STARTS: Partial<Record<Phase, keyof PhaseTimes>> = {
  planning: 'planning',
  validating: 'validating',
  executing: 'executing',
  monitoring: 'monitoring',
  rolling_back: 'rollingBack',
};

export const ROLLBACK_METRIC_REASONS: Record<RollbackTrigger, RollbackMetricReason> = {
  criticalStepFailed: 'step_failure',
  cancelled: 'manual',
  requested: 'manual',
};

const seconds = (ms: number): number => Math.max(0, ms / 1000);

function phaseConsequences(
  t: Extract<Transition, { kind: 'phase' }>,
  snapshot: WorkflowSnapshot,
  plan: ExecutionPlan,
  out: Consequences,
): void {
  const { context } = snapshot;
  const [type, reason] = PHASE_NOTICES[t.to];
  const why =
    t.to === 'failed' && context.failure
      ? `: ${context.failure.code}: ${context.failure.message}`
      : t.to === 'rolling_back'
        ? `: ${context.rollbackReason ?? ''}`
        : '';
  out.notices.push({
    type,
    reason,
    note: `phase ${t.from ?? 'new'} -> ${t.to}${why}`,
    action: 'Reconcile',
    fields: { phase: t.to, from: t.from },
  });
  const startKey = t.from === null ? undefined : PHASE_STARTS[t.from];
  const fromStarted = startKey === undefined ? null : context.times[startKey];
  if (t.from !== null && fromStarted !== null)
    out.metrics.push({ metric: 'phaseDuration', phase: t.from, seconds: seconds(t.at - fromStarted) });
  if (t.to === 'completed' || t.to === 'failed') {
    const outcome = context.outcome ?? (t.to === 'completed' ? 'success' : 'failed');
    out.metrics.push({ metric: 'executionsTotal', outcome });
    if (context.times.planning !== null)
      out.metrics.push({
        metric: 'lifecycleDuration',
        outcome,
        seconds: seconds(t.at - context.times.planning),
      });
    // No score is claimed for a run with nothing verifiable (score null).
    if (t.to === 'completed' && context.effectiveness && context.effectiveness.score !== null)
      out.metrics.push({ metric: 'effectivenessScore', score: context.effectiveness.score });
    // How monitoring ended, typed: its own Event and metric label (src/core/monitoring-verdict.ts).
    const verdict = t.from === 'monitoring' ? monitoringVerdict(context) : null;
    if (verdict !== null) {
      out.metrics.push({ metric: 'monitoringVerdictsTotal', verdict });
      out.notices.push({
        type: verdict === 'Effective' ? 'Normal' : 'Warning',
        reason: verdict === 'Effective' ? 'RemediationVerified' : `Remediation${verdict}`,
        note: `monitoring ended: ${verdict}${context.effectiveness ? ` (resources ${context.effectiveness.resourceHealth}, score ${context.effectiveness.score ?? 'none'}, alert ${context.effectiveness.alert ?? 'none named'})` : ''}`,
        action: 'Reconcile',
        fields: { verdict },
      });
    }
    if (t.to === 'failed' && context.failure && VALIDATION_FAILURES.includes(context.failure.code))
      out.metrics.push({ metric: 'validationFailuresTotal', reason: context.failure.code });
  }
  if (t.from === 'validating') {
    const relaxed = (context.safety ?? []).filter((r) => !r.required && r.result === 'failed');
    if (relaxed.length > 0)
      out.notices.push({
        type: 'Warning',
        reason: 'SafetyCheckWarning',
        note: `relaxed by required: false, went on despite: ${relaxed.map((r) => r.message).join('; ')}`,
        action: 'Reconcile',
        fields: { checks: relaxed.map((r) => r.type).join(',') },
      });
  }
  if (t.to === 'rolling_back' && context.rollbackTrigger !== null)
    out.metrics.push({ metric: 'rollbacksTotal', reason: ROLLBACK_METRIC_REASONS[context.rollbackTrigger] });
  if (t.from === null) {
    out.metrics.push({ metric: 'workflowSteps', steps: plan.steps.length });
    for (const a of plan.adaptiveAdjustments) {
      const adjustmentType = adjustmentMetricType(a);
      if (adjustmentType !== null) out.metrics.push({ metric: 'adaptiveAdjustmentsTotal', adjustmentType });
    }
    learnedNotices(plan, out);
  }
}

/** A retry request decided: the retry with the steps it re-runs, or the refusal with its reason. */
function retryConsequences(
  t: Extract<Transition, { kind: 'retry' }>,
  snapshot: WorkflowSnapshot,
  out: Consequences,
): void {
  const { context } = snapshot;
  const refused = context.retryRefusal;
  if (t.accepted) {
    const retry = context.retries.at(-1);
    const steps = retry?.steps.map((s) => s.step) ?? [];
    out.notices.push({
      type: 'Normal',
      reason: 'RetryStarted',
      note: `retry ${context.retries.length} requested by ${retry?.by ?? '?'} (run segment ${t.segment}) re-runs ${steps.length === 1 ? 'step' : 'steps'} ${steps.join(', ')}`,
      action: 'Reconcile',
      fields: { segment: t.segment, by: retry?.by ?? null, request: retry?.request ?? null },
    });
  } else if (refused) {
    out.notices.push({
      type: 'Warning',
      reason: 'RetryRefused',
      note: `retry requested by ${refused.by} refused: ${refused.code}: ${refused.message}`,
      action: 'Reconcile',
      fields: { reason: refused.code, by: refused.by, request: refused.request },
    });
  }
  out.metrics.push({ metric: 'retriesTotal', result: t.accepted ? 'accepted' : 'refused' });
}

/** The run waits to execute: an Event named for the block (`TargetBusy`, `ExecutionLimit`, a cooldown's). */
function blockedConsequences(t: Extract<Transition, { kind: 'blocked' }>, out: Consequences): void {
  const { block } = t;
  out.notices.push({
    type: 'Normal',
    reason: block.reason,
    note: `waiting to execute: ${describeBlock(block)}`,
    action: 'Reconcile',
    fields: blockFields(block),
  });
  out.metrics.push({ metric: 'admissionBlocksTotal', reason: block.reason });
}

function blockFields(block: AdmissionBlock): Record<string, string | number> {
  switch (block.reason) {
    case 'TargetBusy':
      return { reason: block.reason, target: block.target, holder: block.holder };
    case 'ExecutionLimit':
      return { reason: block.reason, scope: block.scope, limit: block.limit };
    case 'RecentlyRemediated':
      return { reason: block.reason, target: block.target, run: block.run, until: block.until };
    case 'TargetFailing':
    case 'Backoff':
      return {
        reason: block.reason,
        target: block.target,
        run: block.run,
        failures: block.failures,
        until: block.until,
      };
  }
}

function stepConsequences(
  t: Extract<Transition, { kind: 'step' }>,
  snapshot: WorkflowSnapshot,
  plan: ExecutionPlan,
  out: Consequences,
): void {
  const step = plan.steps.find((s) => s.number === t.step);
  if (t.outcome === 'succeeded')
    out.metrics.push({ metric: 'stepsCompletedTotal', action: step?.action ?? '', status: 'success' });
  // Run-time decisions are taken as a step's first attempt starts: announced with that start, once.
  if (t.outcome === 'started' && t.attempt === 1)
    runTimeConsequences(
      snapshot.context.adjustments.filter((a) => a.step === t.step),
      out,
    );
  if (isProgress(t.outcome)) {
    out.progress.push({ step: t.step, name: step?.name ?? '', attempt: t.attempt, outcome: t.outcome });
    return;
  }
  const [type, reason] = stepNotice(t.outcome);
  const run = runOf(snapshot.context, t.step);
  const message =
    t.outcome === 'rollbackFailed'
      ? run?.rollback?.message
      : t.outcome === 'failed' || t.outcome === 'retrying'
        ? run?.message
        : undefined;
  const detail = message === undefined ? '' : `: ${message ?? ''}`;
  out.notices.push({
    type,
    reason,
    note: `step ${t.step} (${step?.name ?? ''}) attempt ${t.attempt} ${t.outcome}${detail}`,
    action: 'ExecuteStep',
    fields: { step: t.step, attempt: t.attempt, outcome: t.outcome },
  });
  if (t.outcome === 'failed')
    out.metrics.push({ metric: 'stepsCompletedTotal', action: step?.action ?? '', status: 'failed' });
}

/** A stop request: asked (`StopRequested`), answered (`StopAcknowledged`), or not (`StopUnanswered`). */
function stopConsequences(
  t: Extract<Transition, { kind: 'stop' }>,
  plan: ExecutionPlan,
  out: Consequences,
): void {
  const step = plan.steps.find((s) => s.number === t.step);
  const which = `step ${t.step} (${step?.name ?? ''}) attempt ${t.attempt}`;
  const fields = { step: t.step, attempt: t.attempt, reason: t.reason, ended: t.ended };
  if (t.ended === null)
    out.notices.push({
      type: 'Normal',
      reason: 'StopRequested',
      note: `asked ${which} to stop (${t.reason}); the run waits up to ${plan.stopGraceMs / 1000}s for its answer`,
      action: 'ExecuteStep',
      fields,
    });
  else if (t.ended === 'gracePassed')
    out.notices.push({
      type: 'Warning',
      reason: 'StopUnanswered',
      note: `${which} did not answer its stop request (${t.reason}) within ${plan.stopGraceMs / 1000}s; the run goes on without it`,
      action: 'ExecuteStep',
      fields,
    });
  else
    out.notices.push({
      type: 'Normal',
      reason: 'StopAcknowledged',
      note:
        t.ended === 'stopped'
          ? `${which} stopped as asked (${t.reason})`
          : `${which} ended ${t.ended} before it stopped (${t.reason})`,
      action: 'ExecuteStep',
      fields,
    });
}

/** The Events and metrics of the transitions just committed, in the order they happened. */
export function consequencesOf(
  happened: readonly Transition[],
  snapshot: WorkflowSnapshot,
  plan: ExecutionPlan,
): Consequences {
  const out: Consequences = {
    notices: [],
    progress: [],
    stepsContinue: phaseOf(snapshot) === 'executing',
    metrics: [],
  };
  for (const t of happened) {
    if (t.kind === 'phase') phaseConsequences(t, snapshot, plan, out);
    else if (t.kind === 'retry') retryConsequences(t, snapshot, out);
    else if (t.kind === 'blocked') blockedConsequences(t, out);
    else if (t.kind === 'stop') stopConsequences(t, plan, out);
    else stepConsequences(t, snapshot, plan, out);
  }
  return out;
}

/** The Event and metrics of a refusal just committed: a spec refused, a statechart not trusted. */
export function refusalConsequences(loaded: Exclude<Loaded, { kind: 'running' }>): Consequences {
  if (loaded.kind === 'invalid') {
    const note = describeIssues(loaded.issues);
    return {
      notices: [
        { type: 'Warning', reason: 'InvalidSpec', note, action: 'Plan', fields: { phase: 'failed' } },
      ],
      progress: [],
      stepsContinue: false,
      metrics: [{ metric: 'validationFailuresTotal', reason: 'InvalidSpec' }],
    };
  }
  return {
    notices: [
      {
        type: 'Warning',
        reason: 'Stalled',
        note: `${loaded.reason}: ${loaded.message}; the workflow is left alone`,
        action: 'Rehydrate',
        fields: { reason: loaded.reason },
      },
    ],
    progress: [],
    stepsContinue: false,
    metrics: [],
  };
}
