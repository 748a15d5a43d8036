/**
 * Stopping an attempt: the other half of the executor's contract (DESIGN 12). A KubernetesExecution's
 * spec is immutable, so the operator asks its executor to stop by annotating the child: the reason
 * (one of STOP_REASONS) and the time it asked. The executor stops acting on the target as soon as it
 * can, and acknowledges by ending the child in phase `stopped` with a message and result that say what
 * it did before it stopped. The operator creates the next attempt of that step, or its rollback, only
 * once the old attempt is terminal (completed, failed or stopped) or the stop grace period has passed.
 */
export const STOP_REQUESTED_ANNOTATION = 'kubernetesexecution.kubernaut.io/stop-requested';
export const STOP_REQUESTED_AT_ANNOTATION = 'kubernetesexecution.kubernaut.io/stop-requested-at';

export const STOP_REASONS = [
  /** The attempt outlived its timeout; the step may be retried. */
  'AttemptTimedOut',
  /** The workflow was cancelled. */
  'WorkflowCancelled',
  /** The step is about to be rolled back. */
  'RollbackStarting',
] as const;
export type StopReason = (typeof STOP_REASONS)[number];

export const isStopReason = (value: string | undefined): value is StopReason =>
  value !== undefined && (STOP_REASONS as readonly string[]).includes(value);

/** Phases in which an attempt no longer acts on its target. */
export const TERMINAL_EXECUTION_PHASES = ['completed', 'failed', 'stopped'] as const;

/**
 * How a stop request ended, as the workflow records it: the attempt acknowledged (`stopped`), ended
 * `completed` or `failed` anyway, or did not answer within the operator's grace period (`gracePassed`),
 * after which the run goes on without the answer.
 */
export const STOP_ENDS = ['stopped', 'completed', 'failed', 'gracePassed'] as const;
export type StopEnd = (typeof STOP_ENDS)[number];
