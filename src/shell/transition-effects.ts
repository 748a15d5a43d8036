/**
 * What a committed transition means for the outside world: a Kubernetes Event, metrics, a log line.
 * Called once per committed change (after the status write), so each happens once per transition.
 */
import type { WorkflowExecution } from '../api/generated/types.ts';
import type { Transition } from '../core/transitions.ts';
import type { EventRecorder, EventTarget, RecordedEvent } from './events.ts';
import type { Logger } from './logger.ts';
import type { OperatorMetrics } from './metrics.ts';

const PHASE_REASONS: Record<string, [RecordedEvent['type'], string]> = {
  validating: ['Normal', 'ValidationStarted'],
  executing: ['Normal', 'ExecutionStarted'],
  monitoring: ['Normal', 'MonitoringStarted'],
  rolling_back: ['Warning', 'RollbackStarted'],
  completed: ['Normal', 'WorkflowExecutionCompleted'],
  failed: ['Warning', 'WorkflowExecutionFailed'],
};

/** Where the status records when each phase began, to measure how long it lasted. */
const PHASE_START_FIELDS = {
  planning: 'planningStartTime',
  validating: 'validationStartTime',
  executing: 'executionStartTime',
  monitoring: 'monitoringStartTime',
  rolling_back: 'rollbackStartTime',
} as const;

const STEP_REASONS: Record<string, [RecordedEvent['type'], string]> = {
  started: ['Normal', 'StepStarted'],
  succeeded: ['Normal', 'StepSucceeded'],
  failed: ['Warning', 'StepFailed'],
  retrying: ['Warning', 'StepRetrying'],
  skipped: ['Normal', 'StepSkipped'],
  rolledBack: ['Normal', 'StepRolledBack'],
  rollbackFailed: ['Warning', 'RollbackFailed'],
};

export interface TransitionEffectsInput {
  workflow: WorkflowExecution;
  target: EventTarget;
  happened: readonly Transition[];
  recorder: EventRecorder;
  metrics?: OperatorMetrics | undefined;
  log: Logger;
  now: number;
}

export async function recordTransitions(input: TransitionEffectsInput): Promise<void> {
  const { workflow, target, happened, recorder, metrics, log } = input;
  const status = workflow.status ?? {};
  const workflowName = workflow.spec.workflowDefinition.name;
  const namespace = workflow.metadata.namespace ?? '';
  const actionOf = (step: number) =>
    workflow.spec.workflowDefinition.steps.find((s) => s.stepNumber === step)?.action ?? '';

  for (const t of happened) {
    if (t.kind === 'phase') {
      const [type, reason] = PHASE_REASONS[t.to] ?? ['Normal', 'PhaseChanged'];
      const why =
        t.to === 'failed'
          ? `: ${status.failureReason ?? 'failed'}`
          : t.to === 'rolling_back'
            ? `: ${status.rollbackReason ?? ''}`
            : '';
      const note = `phase ${t.from ?? 'new'} -> ${t.to}${why}`;
      log.info(note, { phase: t.to, from: t.from });
      await recorder.record(target, { type, reason, note, action: 'Reconcile' }, input.now);
      if (metrics) {
        metrics.phaseStartTimestamp.set({ namespace, name: target.name, phase: t.to }, t.at / 1000);
        const startField =
          t.from && t.from in PHASE_START_FIELDS
            ? PHASE_START_FIELDS[t.from as keyof typeof PHASE_START_FIELDS]
            : undefined;
        const fromStarted = startField ? Date.parse(status[startField] ?? '') : Number.NaN;
        if (t.from && Number.isFinite(fromStarted))
          metrics.phaseDuration.observe({ phase: t.from }, Math.max(0, (t.at - fromStarted) / 1000));
        if (t.to === 'completed' || t.to === 'failed') {
          const outcome = status.workflowResult?.outcome ?? (t.to === 'completed' ? 'success' : 'failed');
          metrics.executionsTotal.inc({ workflow_name: workflowName, outcome });
          const startedAt = Date.parse(status.planningStartTime ?? '');
          if (Number.isFinite(startedAt))
            metrics.lifecycleDuration.observe({ outcome }, Math.max(0, (t.at - startedAt) / 1000));
          if (status.workflowResult?.effectivenessScore !== undefined && t.to === 'completed') {
            metrics.effectivenessScore.observe(status.workflowResult.effectivenessScore);
          }
          if (
            t.to === 'failed' &&
            /Safety|DryRun|Rejected|Validation/.test(
              status.conditions?.find((c) => c.type === 'Ready')?.reason ?? '',
            )
          ) {
            metrics.validationFailuresTotal.inc({
              reason: status.conditions?.find((c) => c.type === 'Ready')?.reason ?? 'Unknown',
            });
          }
        }
        if (t.to === 'rolling_back')
          metrics.rollbacksTotal.inc({
            workflow_name: workflowName,
            reason: /cancel/i.test(status.rollbackReason ?? '') ? 'manual' : 'step_failure',
          });
        if (t.from === null) {
          metrics.workflowSteps.observe(workflow.spec.workflowDefinition.steps.length);
          for (const a of status.adaptiveAdjustments ?? []) {
            const type = a.adjustment.startsWith('ignored')
              ? 'suggestion_ignored'
              : a.adjustment.startsWith('confirmed')
                ? 'suggestion_confirmed'
                : 'parallel_grouping';
            metrics.adaptiveAdjustmentsTotal.inc({ adjustment_type: type });
          }
        }
      }
      continue;
    }
    const [type, reason] = STEP_REASONS[t.outcome] ?? ['Normal', 'StepChanged'];
    const stepStatus = status.stepStatuses?.find((s) => s.stepNumber === t.step);
    const detail =
      t.outcome === 'failed' || t.outcome === 'retrying' || t.outcome === 'rollbackFailed'
        ? `: ${stepStatus?.errorMessage ?? ''}`
        : '';
    const note = `step ${t.step} (${stepStatus?.name ?? actionOf(t.step)}) attempt ${t.attempt} ${t.outcome}${detail}`;
    log.info(note, { step: t.step, attempt: t.attempt, outcome: t.outcome, phase: status.phase });
    await recorder.record(target, { type, reason, note, action: 'ExecuteStep' }, input.now);
    if (metrics && (t.outcome === 'succeeded' || t.outcome === 'failed')) {
      metrics.stepsCompletedTotal.inc({
        workflow_name: workflowName,
        action: actionOf(t.step),
        status: t.outcome === 'succeeded' ? 'success' : 'failed',
      });
    }
  }
}
