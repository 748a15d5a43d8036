/** The audit record of one finished workflow run (the specification's WorkflowExecutionAudit). */

export interface StepExecutionAudit {
  stepNumber: number;
  action: string;
  durationMs: number;
  status: string;
  retriesAttempted: number;
  errorMessage?: string;
}

export interface WorkflowExecutionAudit {
  /** The WorkflowExecution's uid: one row per run, so writing it again is an upsert. */
  id: string;
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
  upsert(record: WorkflowExecutionAudit): Promise<void>;
  get(id: string): Promise<WorkflowExecutionAudit | undefined>;
  list(limit?: number): Promise<WorkflowExecutionAudit[]>;
  close(): Promise<void>;
}
