/**
 * What adaptive orchestration decided, for the outside world: the metric type each adjustment is
 * counted under, and the Events of what history taught at planning and what was decided at run time.
 */
import type { RunTimeAdjustment } from '../../machines/context.ts';
import type { AdjustmentKind, ExecutionPlan, LearnedKind, PlannedAdjustment } from '../../machines/plan.ts';
import { describeDecision, runTimeDecision } from './adaptive.ts';
import type { Consequences } from './outcomes.ts';

export type AdjustmentMetricType =
  | 'parallel_grouping'
  | 'suggestion_confirmed'
  | 'suggestion_ignored'
  | 'retries_from_history'
  | 'timeout_from_history'
  | 'estimate_from_history'
  | 'flagged_by_history'
  | 'retries_at_run_time'
  | 'timeout_at_run_time'
  | 'flagged_at_run_time';

export const ADJUSTMENT_METRIC_TYPES: Record<
  Exclude<AdjustmentKind, 'learned' | 'runTime'>,
  AdjustmentMetricType
> = {
  applied: 'parallel_grouping',
  confirmed: 'suggestion_confirmed',
  ignored: 'suggestion_ignored',
};

/** Decisions learned from history; a plan kept as declared adjusted nothing and is not counted. */
export const LEARNED_METRIC_TYPES: Record<LearnedKind, AdjustmentMetricType | null> = {
  retries: 'retries_from_history',
  timeout: 'timeout_from_history',
  estimate: 'estimate_from_history',
  flag: 'flagged_by_history',
  declared: null,
};

/** Decisions taken at run time (dynamicStepAdjustment), each counted as the step it concerns starts. */
export const RUN_TIME_METRIC_TYPES: Record<RunTimeAdjustment['kind'], AdjustmentMetricType> = {
  retries: 'retries_at_run_time',
  timeout: 'timeout_at_run_time',
  flag: 'flagged_at_run_time',
};

export function adjustmentMetricType(a: PlannedAdjustment): AdjustmentMetricType | null {
  if (a.kind === 'learned') return a.learned ? LEARNED_METRIC_TYPES[a.learned.kind] : null;
  // The plan never carries run-time decisions: the snapshot does, and they are counted from there.
  if (a.kind === 'runTime') return null;
  return ADJUSTMENT_METRIC_TYPES[a.kind];
}

/** What was decided for a step as it started, as Events (flags warn) and metric samples. */
export function runTimeConsequences(adjustments: readonly RunTimeAdjustment[], out: Consequences): void {
  const changes = adjustments.filter((a) => a.kind !== 'flag');
  if (changes.length > 0)
    out.notices.push({
      type: 'Normal',
      reason: 'AdjustedAtRunTime',
      note: changes.map((a) => `${describeDecision(runTimeDecision(a))} (${a.reason})`).join('; '),
      action: 'ExecuteStep',
      fields: { step: changes[0]?.step ?? null, adjustments: changes.length },
    });
  for (const a of adjustments) {
    if (a.kind === 'flag')
      out.notices.push({
        type: 'Warning',
        reason: 'StepFlaggedAtRunTime',
        note: `step ${a.step} starts flagged: ${a.reason}`,
        action: 'ExecuteStep',
        fields: { step: a.step, runs: a.runs },
      });
    out.metrics.push({ metric: 'adaptiveAdjustmentsTotal', adjustmentType: RUN_TIME_METRIC_TYPES[a.kind] });
  }
}

/** What learning from history did to the plan, as Events: flags warn, the rest informs. */
export function learnedNotices(plan: ExecutionPlan, out: Consequences): void {
  const learned = plan.adaptiveAdjustments.filter((a) => a.kind === 'learned' && a.learned);
  const changes = learned.filter((a) => a.learned?.kind !== 'flag' && a.learned?.kind !== 'declared');
  if (changes.length > 0)
    out.notices.push({
      type: 'Normal',
      reason: 'AdjustedFromHistory',
      note: changes.map((a) => `${a.adjustment} (${a.reason})`).join('; '),
      action: 'Plan',
      fields: { adjustments: changes.length },
    });
  for (const a of learned) {
    if (a.learned?.kind === 'flag')
      out.notices.push({
        type: 'Warning',
        reason: 'StepFlaggedByHistory',
        note: a.reason,
        action: 'Plan',
        fields: { step: a.learned.step, runs: a.learned.runs },
      });
    if (a.learned?.kind === 'declared')
      out.notices.push({
        type: 'Normal',
        reason: 'PlannedAsDeclared',
        note: `learning from history changed nothing: ${a.reason}`,
        action: 'Plan',
        fields: { runs: a.learned.runs },
      });
  }
}
