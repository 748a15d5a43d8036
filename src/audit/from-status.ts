/** The audit record of a run, read off its projected status. */
import type { WorkflowExecution } from '../api/generated/types.ts';
import { historyTargetOf } from '../core/history.ts';
import type { WorkflowExecutionAudit } from './record.ts';
import { definitionOf } from '../api/resolved-spec.ts';

const ms = (from?: string, to?: string): number =>
  from && to ? Math.max(0, Date.parse(to) - Date.parse(from)) : 0;

/** The run segment the status is in: 1, and one more for each accepted retry. */
export const segmentOfStatus = (workflow: WorkflowExecution): number =>
  (workflow.status?.retries?.count ?? 0) + 1;

/** The audit row of the workflow's current run segment. */
export function auditIdOf(workflow: WorkflowExecution, segment = segmentOfStatus(workflow)): string {
  const uid = workflow.metadata.uid ?? `${workflow.metadata.namespace ?? ''}/${workflow.metadata.name ?? ''}`;
  return segment === 1 ? uid : `${uid}/segment-${segment}`;
}

/** The audit ids of every run segment the workflow has had so far (the first run is segment 1). */
export function auditIdsOf(workflow: WorkflowExecution): string[] {
  return Array.from({ length: segmentOfStatus(workflow) }, (_, i) => auditIdOf(workflow, i + 1));
}

export function auditRecordOf(
  workflow: WorkflowExecution,
  finalStatus: string,
  now: number,
): WorkflowExecutionAudit {
  const status = workflow.status ?? {};
  const segment = segmentOfStatus(workflow);
  const retry = status.retries?.history?.at(-1);
  // A retry's segment records the steps it re-ran; the kept ones belong to the earlier segment.
  const rerun = segment === 1 || !retry ? null : new Set(retry.steps);
  const steps = (status.stepStatuses ?? []).filter((s) => rerun === null || rerun.has(s.stepNumber));
  const started = rerun === null ? status.planningStartTime : retry?.startTime;
  const definition = definitionOf(workflow);
  const declared = new Map((definition?.steps ?? []).map((s) => [s.stepNumber, s]));
  return {
    id: auditIdOf(workflow),
    segment,
    namespace: workflow.metadata.namespace ?? '',
    name: workflow.metadata.name ?? '',
    remediationId: workflow.spec.alertRemediationRef?.name ?? '',
    workflowName: definition?.name ?? workflow.spec.workflowTemplateRef?.name ?? '',
    workflowVersion: definition?.version ?? workflow.spec.workflowTemplateRef?.version ?? '',
    totalSteps: rerun === null ? (definition?.steps.length ?? 0) : rerun.size,
    stepsCompleted: steps.filter((s) => s.status === 'completed' || s.status === 'rolled_back').length,
    stepsFailed: steps.filter((s) => s.status === 'failed' || s.status === 'rollback_failed').length,
    totalDurationMs: ms(started, status.completionTime ?? new Date(now).toISOString()),
    outcome: status.workflowResult?.outcome ?? (finalStatus === 'completed' ? 'success' : 'failed'),
    effectivenessScore: status.workflowResult?.effectivenessScore ?? 0,
    rollbacksPerformed: status.executionMetrics?.rollbacksPerformed ?? 0,
    stepExecutions: steps.map((s) => {
      const step = declared.get(s.stepNumber);
      return {
        stepNumber: s.stepNumber,
        action: s.action ?? '',
        ...(step ? { target: historyTargetOf(step) } : {}),
        durationMs: ms(s.startTime, s.endTime),
        status: s.status,
        retriesAttempted: s.retriesAttempted ?? 0,
        ...(s.errorMessage ? { errorMessage: s.errorMessage } : {}),
      };
    }),
    adaptiveAdjustments: (status.adaptiveAdjustments ?? []).map((a) => ({
      adjustment: a.adjustment,
      reason: a.reason ?? '',
    })),
    completedAt: status.completionTime ?? new Date(now).toISOString(),
    status: finalStatus,
    ...(status.failureReason ? { errorMessage: status.failureReason } : {}),
  };
}
