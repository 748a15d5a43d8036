/**
 * The resource status (DESIGN 5, without `statechart`), projected from the snapshot alone. Byte
 * stable: the same snapshot and previous conditions give the same status; times come from the
 * snapshot, never from a clock.
 */
import type { Condition } from '../api/conditions.ts';
import { STEP_ACTION_CATALOGUE } from '../api/action-catalogue.ts';
import type { RollbackAction } from '../api/actions.ts';
import type { WorkflowExecutionStatus } from '../api/generated/types.ts';
import {
  retryRefusal,
  runOf,
  safetyVerdict,
  VALIDATION_FAILURES,
  type StepRun,
  type WorkflowContext,
} from '../../machines/context.ts';
import type { WorkflowSnapshot } from '../../machines/workflow.ts';
import { childName } from './child-name.ts';
import { describeDecision, recordedLearning, runTimeDecision } from './adaptive.ts';
import { formatDuration } from './duration.ts';
import { ROLLBACK_REQUESTED_BY } from './observe.ts';
import type { ExecutionPlan } from '../../machines/plan.ts';
import { lastEventTime, phaseOf, substateOf } from './statechart.ts';
import { isoOf } from './time.ts';
import { canonicalJson } from './spec-hash.ts';
import { statusConditions } from './status-conditions.ts';

export type ProjectedStatus = Omit<WorkflowExecutionStatus, 'statechart'>;
type StepStatus = NonNullable<WorkflowExecutionStatus['stepStatuses']>[number];
type ExecutionRef = NonNullable<StepStatus['k8sExecutionRef']>;

export interface ProjectOptions {
  generation: number;
  previousConditions: readonly Condition[];
  /** The resource's name, for child references; the workflow definition's name when absent. */
  name?: string;
  /** What the shell knows of children (namespace, uid) to complete the references. */
  steps?: readonly { stepNumber: number; k8sExecutionRef?: ExecutionRef }[];
}

const iso = (ms: number | null | undefined): string | undefined => (ms == null ? undefined : isoOf(ms));

/** Drops undefined members, so the status is plain JSON with a stable shape. */
type Compact<T> = { [K in keyof T as undefined extends T[K] ? never : K]: T[K] } & {
  [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined>;
};
/**
 * Whether a rollback can undo each step (its rollbackSpec, its action's inverse, or why not), steps
 * with the same verdict in one entry: a verdict per step made the plan grow ~120 bytes a step, and
 * every status write carries it.
 */
function reversibilityOf(plan: ExecutionPlan) {
  const groups = new Map<string, { steps: number[]; verdict: ReversibilityVerdict }>();
  for (const step of [...plan.steps].sort((a, b) => a.number - b.number)) {
    const verdict = reversibilityVerdictOf(step);
    const key = canonicalJson(verdict);
    const group = groups.get(key);
    if (group) group.steps.push(step.number);
    else groups.set(key, { steps: [step.number], verdict });
  }
  return [...groups.values()].map(({ steps, verdict }) => ({ steps, ...verdict }));
}

type ReversibilityVerdict =
  | { reversible: true; rollbackAction: RollbackAction; source: 'rollbackSpec' | 'inverse' }
  | { reversible: false; source: 'none'; reason: string };

function reversibilityVerdictOf(step: ExecutionPlan['steps'][number]): ReversibilityVerdict {
  if (step.rollback)
    return { reversible: true, rollbackAction: step.rollback.action, source: step.rollback.source };
  const reversal = STEP_ACTION_CATALOGUE[step.action].reversal;
  return {
    reversible: false,
    source: 'none',
    reason: reversal.kind === 'irreversible' ? reversal.why : 'the step names no target to undo',
  };
}

function compact<T extends object>(value: T): Compact<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Compact<T>;
}

function stepState(run: StepRun): StepStatus['status'] {
  if (run.rollback) {
    if (run.rollback.status === 'running') return 'rolling_back';
    return run.rollback.status === 'rolledBack' ? 'rolled_back' : 'rollback_failed';
  }
  switch (run.status) {
    case 'pending':
      return 'pending';
    case 'running':
      return 'executing';
    case 'backoff':
      return 'retrying';
    case 'succeeded':
      return 'completed';
    case 'failed':
      return 'failed';
    case 'skipped':
      return 'skipped';
  }
}

function recommendedActions(snapshot: WorkflowSnapshot, plan: ExecutionPlan): string[] {
  const { context } = snapshot;
  const actions: string[] = [];
  for (const step of plan.steps) {
    const run = runOf(context, step.number);
    if (run?.status === 'failed')
      actions.push(`investigate step ${step.number} (${step.name}): ${run.message ?? 'failed'}`);
    if (run?.rollback?.status === 'failed')
      actions.push(`restore step ${step.number} (${step.name}) by hand: its rollback failed`);
  }
  if (substateOf(snapshot) === 'awaitingRollback')
    actions.push(`request the rollback with annotation ${ROLLBACK_REQUESTED_BY}=<your name>`);
  if (phaseOf(snapshot) === 'failed' && retryRefusal(context, true) === null)
    actions.push('once the cause is fixed, re-run the failed and skipped steps: wfx retry <name>');
  if (context.outcome === 'unknown')
    actions.push('verify the remediation by hand: its effectiveness was not confirmed');
  if (context.outcome === 'ineffective')
    actions.push('the remediation did not help: escalate the original alert');
  return actions;
}

/** A step's latest stop request and its answer: absent when none was asked. */
function stopRequestOf(context: WorkflowContext, step: number): StepStatus['stopRequest'] {
  const stop = context.stops.findLast((s) => s.step === step);
  if (!stop) return undefined;
  return compact({
    attempt: stop.attempt,
    reason: stop.reason,
    requestTime: isoOf(stop.at),
    answer: stop.ended ?? undefined,
    answerTime: iso(stop.endedAt),
  });
}

/** `status.retries`: absent until a retry was requested. */
function retriesStatus(context: WorkflowContext): ProjectedStatus['retries'] {
  const refused = context.retryRefusal;
  if (context.retries.length === 0 && refused === null) return undefined;
  return compact({
    count: context.retries.length,
    history: context.retries.map((r, i) => ({
      segment: i + 2,
      requestedBy: r.by,
      request: r.request,
      startTime: isoOf(r.at),
      steps: r.steps.map((s) => s.step),
    })),
    refused:
      refused === null
        ? undefined
        : {
            requestedBy: refused.by,
            request: refused.request,
            time: isoOf(refused.at),
            reason: refused.code,
            message: refused.message,
          },
  });
}

export function projectStatus(
  snapshot: WorkflowSnapshot,
  plan: ExecutionPlan,
  options: ProjectOptions,
): ProjectedStatus {
  const { context } = snapshot;
  const name = options.name ?? plan.workflowName;
  const refs = new Map((options.steps ?? []).map((s) => [s.stepNumber, s.k8sExecutionRef]));
  const runs = plan.steps.map((step) => ({ step, run: runOf(context, step.number) }));
  const stepStatuses = runs.map(({ step, run }): StepStatus => {
    if (!run) return { stepNumber: step.number, name: step.name, action: step.action, status: 'pending' };
    const childRef =
      run.rollback !== null
        ? childName(name, 'rollback', step.number, 1)
        : run.attempt > 0
          ? childName(name, 'step', step.number, run.attempt)
          : undefined;
    const known = refs.get(step.number);
    return compact({
      stepNumber: step.number,
      name: step.name,
      action: step.action,
      status: stepState(run),
      startTime: iso(run.startedAt),
      endTime: iso(run.rollback ? run.rollback.finishedAt : run.status === 'running' ? null : run.finishedAt),
      result: run.result ?? undefined,
      errorMessage:
        (run.rollback?.status === 'failed' ? run.rollback.message : null) ?? run.message ?? undefined,
      // Absent means none (every reader takes it so): 21 bytes per step of a long workflow.
      retriesAttempted: run.attempt > 1 ? run.attempt - 1 : undefined,
      k8sExecutionRef: childRef === undefined ? undefined : { ...known, name: childRef },
      stopRequest: stopRequestOf(context, step.number),
    });
  });
  const settled = runs.filter(({ run }) => run && ['succeeded', 'failed', 'skipped'].includes(run.status));
  const succeeded = runs.filter(({ run }) => run?.status === 'succeeded');
  const rollbacks = runs.filter(({ run }) => run?.rollback && run.rollback.status !== 'running').length;
  const resourcesAffected = succeeded.reduce(
    (sum, { run }) => sum + (run?.result?.resourcesAffected?.length ?? 0),
    0,
  );
  const start = context.times.planning;
  const end = context.times.finished ?? lastEventTime(context);

  const safety = context.safety;
  const dryRunRecords = plan.steps.map((s) => ({ step: s, record: context.dryRun[String(s.number)] }));
  const dryRunDone = dryRunRecords.filter((d) => d.record !== undefined);
  const validationFailure = context.failure !== null && VALIDATION_FAILURES.includes(context.failure.code);
  const pastSafety =
    context.times.executing !== null ||
    (substateOf(snapshot) !== 'safety' && context.times.validating !== null);

  const phase = phaseOf(snapshot);
  const outcome = context.outcome;
  const effectiveness = context.effectiveness;
  const nowIso = isoOf(lastEventTime(context));

  return compact({
    phase,
    currentStep: settled.length,
    totalSteps: plan.steps.length,
    progress: `${settled.length}/${plan.steps.length}`,
    executionPlan: {
      strategy: plan.strategy,
      estimatedDuration: formatDuration(plan.estimatedDurationMs),
      rollbackStrategy: plan.rollbackStrategy,
      safetyChecks: plan.safetyChecks,
      parallelGroups: plan.levels,
      rollbackOrder: plan.rollbackOrder,
      reversibility: reversibilityOf(plan),
    },
    validationResults: compact({
      safetyChecksPassed:
        safety !== null
          ? safetyVerdict(safety) === 'passed'
          : pastSafety && context.failure?.code !== 'SafetyCheckFailed'
            ? true
            : undefined,
      safetyCheckResults: safety?.map((r) => ({
        type: r.type,
        required: r.required,
        result: r.result,
        message: r.message,
        checkedAt: isoOf(r.checkedAt),
      })),
      dryRunPerformed: plan.dryRunFirst ? dryRunDone.length > 0 : false,
      dryRunResults:
        plan.dryRunFirst && dryRunDone.length > 0
          ? {
              overallSuccess:
                dryRunDone.length === plan.steps.length &&
                dryRunDone.every((d) => d.record?.outcome === 'succeeded'),
              stepsSimulated: dryRunDone.length,
              stepResults: dryRunDone.map((d) =>
                compact({
                  stepNumber: d.step.number,
                  action: d.step.action,
                  wouldSucceed: d.record?.outcome === 'succeeded',
                  validationErrors:
                    d.record?.message && d.record.outcome === 'failed' ? [d.record.message] : undefined,
                }),
              ),
            }
          : undefined,
      approvalReceived: plan.approvalRequired ? context.approval !== null : undefined,
      approvedBy: context.approval?.by,
      approvalTimestamp: iso(context.approval?.at),
      validationErrors: validationFailure && context.failure ? [context.failure.message] : undefined,
    }),
    stepStatuses,
    executionMetrics: compact({
      totalDuration: start === null ? undefined : formatDuration(Math.max(0, end - start)),
      stepSuccessRate:
        settled.length === 0 ? undefined : Math.round((succeeded.length / settled.length) * 10_000) / 10_000,
      rollbacksPerformed: rollbacks,
      resourcesAffected,
    }),
    adaptiveAdjustments: [
      ...plan.adaptiveAdjustments.map((a) =>
        compact({
          timestamp: iso(context.times.planning),
          adjustment: a.adjustment,
          reason: a.reason,
          kind: a.kind,
          learned: a.learned ? recordedLearning(a.learned) : undefined,
        }),
      ),
      ...context.adjustments.map((a) => {
        const decision = runTimeDecision(a);
        return {
          timestamp: isoOf(a.at),
          adjustment: describeDecision(decision),
          reason: a.reason,
          kind: 'runTime' as const,
          learned: recordedLearning(decision),
        };
      }),
    ],
    workflowResult:
      outcome === null
        ? undefined
        : compact({
            outcome,
            effectivenessScore: effectiveness?.score ?? undefined,
            resourceHealth: effectiveness?.resourceHealth ?? 'unknown',
            newAlertsTriggered: effectiveness?.newAlertsTriggered ?? undefined,
            alertsChecked: effectiveness ? effectiveness.newAlertsTriggered !== null : false,
            recommendedActions: recommendedActions(snapshot, plan),
          }),
    planningStartTime: iso(context.times.planning),
    validationStartTime: iso(context.times.validating),
    executionStartTime: iso(context.times.executing),
    monitoringStartTime: iso(context.times.monitoring),
    rollbackStartTime: iso(context.times.rollingBack),
    completionTime: iso(context.times.finished),
    failureReason: context.failure ? `${context.failure.code}: ${context.failure.message}` : undefined,
    rollbackReason: context.rollbackReason ?? undefined,
    retries: retriesStatus(context),
    conditions: statusConditions(snapshot, plan, options.previousConditions, options.generation, nowIso),
  });
}
