/** The audit record of one finished workflow run (the specification's WorkflowExecutionAudit). */
import type { HistoryWindow, StepHistory } from '../core/history.ts';

export interface StepExecutionAudit {
  stepNumber: number;
  action: string;
  /** What the step acted on (`Deployment shop/web`, `custom noop`): history's per-target key. */
  target?: string;
  durationMs: number;
  status: string;
  retriesAttempted: number;
  errorMessage?: string;
}

export interface WorkflowExecutionAudit {
  /**
   * The WorkflowExecution's uid for its first run, `<uid>/segment-<n>` for the run segment retry n-1
   * started: one row per segment, so writing it again is an upsert.
   */
  id: string;
  /** 1 for the first run, one more for each retry (`wfx retry`). */
  segment: number;
  namespace: string;
  name: string;
  remediationId: string;
  workflowName: string;
  workflowVersion: string;
  totalSteps: number;
  stepsCompleted: number;
  stepsFailed: number;
  totalDurationMs: number;
  outcome: string;
  effectivenessScore: number;
  rollbacksPerformed: number;
  stepExecutions: StepExecutionAudit[];
  adaptiveAdjustments: { adjustment: string; reason: string }[];
  completedAt: string;
  /** The final phase: completed, failed, or deleted when the resource went away unfinished. */
  status: string;
  errorMessage?: string;
}

export interface AuditStore {
  /** Writes the run and its steps' history; writing the same run again replaces both. */
  upsert(record: WorkflowExecutionAudit): Promise<void>;
  get(id: string): Promise<WorkflowExecutionAudit | undefined>;
  list(limit?: number): Promise<WorkflowExecutionAudit[]>;
  /**
   * History of a workflow name/version's steps, by step number: the finished runs completed within
   * the window, newest first, at most MAX_HISTORY_ROWS step rows.
   */
  workflowHistory(
    workflowName: string,
    workflowVersion: string,
    window: HistoryWindow,
  ): Promise<Map<number, StepHistory>>;
  /** History of one action on one target (`historyTargetOf`), in any workflow; same window and bound. */
  targetHistory(action: string, target: string, window: HistoryWindow): Promise<StepHistory>;
  /**
   * Deletes the runs completed before `before` (ISO time) and their steps' history; returns how
   * many runs. Retention of audit data (90 days by default, --audit-retention).
   */
  prune(before: string): Promise<number>;
  close(): Promise<void>;
}
