/**
 * The words a workflow machine writes into its context. The machine decides what happened; the core
 * (src/core/machine-text.ts) says it, so the chart itself holds no prose. Every function is pure.
 */
import type { WorkflowEvent } from './events.ts';
import type {
  AbortCode,
  FailureCode,
  RetryRefusalCode,
  RollbackTrigger,
  WorkflowContext,
} from './context.ts';
import type { ExecutionPlan, PlannedStep } from './plan.ts';

export interface TextInput {
  plan: ExecutionPlan;
  context: WorkflowContext;
  event: WorkflowEvent;
}

export interface MachineText {
  /** Why the workflow failed with `code`, from the context and the event that decided it. */
  failure(code: FailureCode, input: TextInput): string;
  /** An attempt the executor reported failed without saying why. */
  attemptFailed(attempt: number): string;
  attemptTimedOut(attempt: number, step: PlannedStep): string;
  /** An attempt that acknowledged a stop request without saying what it did. */
  attemptStopped(attempt: number): string;
  /** The abort a critical step's final failure starts. */
  criticalStepFailed(step: PlannedStep, message: string): string;
  cancelled(by: string): string;
  /** Why a pending step never started: the abort, or its dependencies that did not succeed. */
  notStarted(step: PlannedStep, abort: AbortCode | null, failedDependencies: readonly number[]): string;
  /** Why a step waiting for its retry is given up. */
  notRetried(previous: string | null, abort: AbortCode | null): string;
  rollbackReason(trigger: RollbackTrigger, input: TextInput): string;
  rollbackTimedOut(step: PlannedStep): string;
  /** Why a retry request changed nothing. */
  retryRefused(code: RetryRefusalCode, input: TextInput): string;
}
