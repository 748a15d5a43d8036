/**
 * What must exist and happen now, derived from the committed snapshot alone (DESIGN 3): a crash
 * between persist and act is repaired by the next reconcile, which derives the same effects.
 */
import { attemptDeadline, effectiveStep, runOf, stopAwaited, stopGraceEnd } from '../../machines/context.ts';
import type { StopReason } from '../api/stop-request.ts';
import type { WorkflowSnapshot } from '../../machines/workflow.ts';
import { childName } from './child-name.ts';
import type { ChildKind } from './observe.ts';
import type { ExecutionPlan, PlannedStep } from '../../machines/plan.ts';
import { phaseOf, substateOf } from './statechart.ts';

export interface DesiredChild {
  name: string;
  kind: ChildKind;
  stepNumber: number;
  attempt: number;
  /** How long the attempt may take: the step's timeout as this run has it, or its rollback's. */
  timeoutMs: number;
  /** When the operator started it (the timeline reads it from the child). */
  startedAt?: number;
}

/**
 * A child that must carry a stop request (src/api/stop-request.ts): an attempt the machine asked to
 * stop and still waits on. The shell annotates it once; the executor answers by ending it `stopped`.
 */
export interface DesiredStop {
  /** The child's name (its attempt's deterministic name). */
  name: string;
  stepNumber: number;
  attempt: number;
  reason: StopReason;
  /** When the machine decided to ask. */
  requestedAt: number;
}

export interface DesiredEffects {
  children: DesiredChild[];
  stops: DesiredStop[];
  runSafetyChecks: boolean;
  /** Waiting for admission: the run's target locks and the storm limits are looked at again. */
  admit: boolean;
  checkEffectiveness: boolean;
  /** Epoch ms of the earliest deadline the machine waits for; requeue then. */
  nextDeadline: number | null;
}

const child = (
  workflowName: string,
  kind: ChildKind,
  step: PlannedStep,
  attempt: number,
  timeoutMs: number,
  startedAt: number | null,
): DesiredChild => ({
  name: childName(workflowName, kind, step.number, attempt),
  kind,
  stepNumber: step.number,
  attempt,
  timeoutMs,
  ...(startedAt === null ? {} : { startedAt }),
});

/** The rollback step currently running, if any. */
export function currentRollback(snapshot: WorkflowSnapshot, plan: ExecutionPlan): number | null {
  if (phaseOf(snapshot) !== 'rolling_back') return null;
  return plan.rollbackOrder.find((n) => runOf(snapshot.context, n)?.rollback?.status === 'running') ?? null;
}

export function nextDeadline(snapshot: WorkflowSnapshot, plan: ExecutionPlan): number | null {
  const { context } = snapshot;
  const candidates: number[] = [];
  switch (phaseOf(snapshot)) {
    case 'planning':
      if (context.times.planning !== null) candidates.push(context.times.planning + plan.timeouts.planningMs);
      break;
    case 'validating':
      if (context.times.validating !== null)
        candidates.push(context.times.validating + plan.timeouts.validationMs);
      break;
    case 'executing':
      for (const step of plan.steps) {
        const run = runOf(context, step.number);
        if (!run) continue;
        const deadline = attemptDeadline(context, step);
        if (deadline !== null) candidates.push(deadline);
        // A retry that waits for its attempt before to stop is due when that one answers or its grace ends.
        if (run.status === 'backoff' && run.retryAt !== null && !stopAwaited(context, [step.number]))
          candidates.push(run.retryAt);
      }
      // An attempt asked to stop is waited for until its grace period ends.
      for (const stop of context.stops) if (stop.ended === null) candidates.push(stopGraceEnd(plan, stop));
      break;
    case 'monitoring':
      if (context.times.monitoring !== null)
        candidates.push(context.times.monitoring + plan.timeouts.monitoringMs);
      break;
    case 'rolling_back': {
      const n = currentRollback(snapshot, plan);
      const step = plan.steps.find((s) => s.number === n);
      const rb = n === null ? null : runOf(context, n)?.rollback;
      if (step?.rollback && rb) candidates.push(rb.startedAt + step.rollback.timeoutMs);
      break;
    }
    case 'completed':
    case 'failed':
      break;
  }
  return candidates.length === 0 ? null : Math.min(...candidates);
}

/**
 * The checks a snapshot waits for: the safety checks in validation, admission (the target locks and
 * storm limits) as validation's last gate, the effectiveness check while monitoring.
 */
export interface ChecksWanted {
  safety: boolean;
  admission: boolean;
  effectiveness: boolean;
}

export function checksWanted(snapshot: WorkflowSnapshot, plan: ExecutionPlan): ChecksWanted {
  const phase = phaseOf(snapshot);
  const sub = substateOf(snapshot);
  return {
    safety: phase === 'validating' && sub === 'safety' && plan.safetyChecks.length > 0,
    admission: phase === 'validating' && sub === 'admission',
    effectiveness: phase === 'monitoring',
  };
}

export function desiredEffects(
  snapshot: WorkflowSnapshot,
  plan: ExecutionPlan,
  workflowName: string,
): DesiredEffects {
  const phase = phaseOf(snapshot);
  const sub = substateOf(snapshot);
  const children: DesiredChild[] = [];
  if (phase === 'validating' && sub === 'dryRun') {
    // The dry run started when the safety checks passed (or validation began, without checks).
    const started = snapshot.context.safety?.[0]?.checkedAt ?? snapshot.context.times.validating;
    for (const step of plan.steps)
      children.push(child(workflowName, 'dryRun', step, 1, step.timeoutMs, started));
  }
  if (phase === 'executing') {
    for (const step of plan.steps) {
      const run = runOf(snapshot.context, step.number);
      if (run?.status === 'running')
        children.push(
          child(
            workflowName,
            'step',
            step,
            run.attempt,
            effectiveStep(step, snapshot.context).timeoutMs,
            run.startedAt,
          ),
        );
    }
  }
  const rollback = plan.steps.find((s) => s.number === currentRollback(snapshot, plan));
  if (rollback)
    children.push(
      child(
        workflowName,
        'rollback',
        rollback,
        1,
        rollback.rollback?.timeoutMs ?? rollback.timeoutMs,
        runOf(snapshot.context, rollback.number)?.rollback?.startedAt ?? null,
      ),
    );
  const stops = snapshot.context.stops
    .filter((stop) => stop.ended === null)
    .map((stop): DesiredStop => ({
      name: childName(workflowName, 'step', stop.step, stop.attempt),
      stepNumber: stop.step,
      attempt: stop.attempt,
      reason: stop.reason,
      requestedAt: stop.at,
    }));
  const checks = checksWanted(snapshot, plan);
  return {
    children,
    stops,
    runSafetyChecks: checks.safety,
    admit: checks.admission,
    checkEffectiveness: checks.effectiveness,
    nextDeadline: nextDeadline(snapshot, plan),
  };
}
