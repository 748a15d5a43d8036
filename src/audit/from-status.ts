/** The audit record of a run, read off its projected status. */
import type { WorkflowExecution } from '../api/generated/types.ts';
import { historyTargetOf } from '../core/history.ts';
import type { WorkflowExecutionAudit } from './record.ts';

const ms = (from?: string, to?: string): number =>
  from && to ? Math.max(0, Date.parse(to) - Date.parse(from)) : 0;

export function auditRecordOf(
  workflow: WorkflowExecution,
  finalStatus: string,
  now: number,
): WorkflowExecutionAudit {
  const status = workflow.status ?? {};
  const steps = status.stepStatuses ?? [];
  const declared = new Map(workflow.spec.workflowDefinition.steps.map((s) => [s.stepNumber, s]));
  return {
    id: workflow.metadata.uid ?? `${workflow.metadata.namespace ?? ''}/${workflow.metadata.name ?? ''}`,
    namespace: workflow.metadata.namespace ?? '',
    name: workflow.metadata.name ?? '',
    remediationId: workflow.spec.alertRemediationRef?.name ?? '',
    workflowName: workflow.spec.workflowDefinition.name,
    workflowVersion: workflow.spec.workflowDefinition.version ?? '',
    totalSteps: workflow.spec.workflowDefinition.steps.length,
    stepsCompleted: steps.filter((s) => s.status === 'completed' || s.status === 'rolled_back').length,
    stepsFailed: steps.filter((s) => s.status === 'failed' || s.status === 'rollback_failed').length,
    totalDurationMs: ms(status.planningStartTime, status.completionTime ?? new Date(now).toISOString()),
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
