/**
 * What the workflow statechart is told: observations, each carrying the time it was made (`now`,
 * epoch milliseconds). The machine never reads a clock; time enters only through these events.
 */
import type { SafetyCheck, StepExecutionResult } from '../src/api/generated/types.ts';

export type SafetyResultValue = 'passed' | 'failed' | 'not_applicable' | 'error';

export interface SafetyCheckResult {
  type: SafetyCheck['type'];
  required: boolean;
  result: SafetyResultValue;
  message: string;
}

export type ResourceHealth = 'healthy' | 'degraded' | 'unhealthy' | 'unknown';

/**
 * Alertmanager as a check found it: it answered, did not (refused, timed out, an error status), or
 * the operator has no URL for it (`--alertmanager-url`).
 */
export type AlertmanagerState = 'answered' | 'unreachable' | 'notConfigured';

/**
 * The alert the run remediates (`spec.alertRef`): no longer active, still active, or not known
 * (Alertmanager did not answer or is not configured).
 */
export type AlertResolution = 'resolved' | 'firing' | 'unknown';

export interface EffectivenessObservation {
  /** Every verifiable target is healthy and no new alert concerns a touched target. */
  effective: boolean;
  /** 0.0-1.0: the healthy share of the verifiable targets; null when none is verifiable. */
  score: number | null;
  resourceHealth: ResourceHealth;
  /** null: alerts could not be checked. */
  newAlertsTriggered: boolean | null;
  /** The alert the run remediates; null when the run names none. */
  alert: AlertResolution | null;
  alertmanager: AlertmanagerState;
  /**
   * How long targets must stay healthy (and the alert resolved) before the run completes: the spec's
   * `executionStrategy.stabilityWindow`, else the operator's `--stability-window`.
   */
  stabilityWindowMs: number;
}

export type Outcome = 'succeeded' | 'failed';

export interface TickEvent {
  type: 'TICK';
  now: number;
}
export interface SafetyResultEvent {
  type: 'SAFETY_RESULT';
  now: number;
  results: SafetyCheckResult[];
  /**
   * Alertmanager, asked with the checks when it is configured or the run names an alert: shown as a
   * condition before execution, never blocking it.
   */
  alertmanager?: AlertmanagerState;
}
export interface DryRunResultEvent {
  type: 'DRYRUN_RESULT';
  now: number;
  step: number;
  outcome: Outcome;
  message?: string;
}
export interface ApprovedEvent {
  type: 'APPROVED';
  now: number;
  by: string;
}
export interface RejectedEvent {
  type: 'REJECTED';
  now: number;
  by: string;
}
export interface StepResultEvent {
  type: 'STEP_RESULT';
  now: number;
  step: number;
  attempt: number;
  outcome: Outcome;
  message?: string;
  result?: StepExecutionResult;
}
/**
 * A step attempt's child acknowledged a stop request: it ended in phase `stopped` and acts no more
 * (src/api/stop-request.ts). `result` says what it did before it stopped, when it knows.
 */
export interface StepStoppedEvent {
  type: 'STEP_STOPPED';
  now: number;
  step: number;
  attempt: number;
  message?: string;
  result?: StepExecutionResult;
}
export interface RollbackResultEvent {
  type: 'ROLLBACK_RESULT';
  now: number;
  step: number;
  outcome: Outcome;
  message?: string;
}
export interface EffectivenessResultEvent extends EffectivenessObservation {
  type: 'EFFECTIVENESS_RESULT';
  now: number;
}
export interface CancelRequestedEvent {
  type: 'CANCEL_REQUESTED';
  now: number;
  by: string;
}
export interface RollbackRequestedEvent {
  type: 'ROLLBACK_REQUESTED';
  now: number;
  by: string;
}

/**
 * Why a run may not start executing yet (src/core/target-locks.ts decides, the shell observes):
 * another run holds a lock of one of its targets (`target` as messages name it, `holder` the
 * Lease's holderIdentity, `namespace/name/uid`), or a storm limit is reached; or a target is in its
 * cooldown (src/core/target-cooldown.ts): `run` (`namespace/name`) remediated it moments ago
 * (`RecentlyRemediated`), or failed on it, `failures` in a row (`Backoff`; `TargetFailing` past the
 * threshold), and the run may act on it from `until` (ms).
 */
export type AdmissionBlock =
  | { reason: 'TargetBusy'; target: string; holder: string }
  | { reason: 'ExecutionLimit'; scope: 'namespace' | 'cluster'; limit: number }
  | { reason: 'RecentlyRemediated'; target: string; run: string; until: number }
  | { reason: 'TargetFailing'; target: string; run: string; failures: number; until: number }
  | { reason: 'Backoff'; target: string; run: string; failures: number; until: number };

export type AdmissionBlockReason = AdmissionBlock['reason'];

/** Whether the run may leave validation for executing: its locks are taken and no limit is reached. */
export type AdmissionVerdict = { admitted: true } | { admitted: false; block: AdmissionBlock };

export interface AdmissionResultEvent {
  type: 'ADMISSION_RESULT';
  now: number;
  verdict: AdmissionVerdict;
}

/** A retry of a failed run: `request` identifies it, so the same annotation never retries twice. */
export interface RetryRequestedEvent {
  type: 'RETRY_REQUESTED';
  now: number;
  by: string;
  request: string;
}

export type WorkflowEvent =
  | TickEvent
  | SafetyResultEvent
  | AdmissionResultEvent
  | DryRunResultEvent
  | ApprovedEvent
  | RejectedEvent
  | StepResultEvent
  | StepStoppedEvent
  | RollbackResultEvent
  | EffectivenessResultEvent
  | CancelRequestedEvent
  | RollbackRequestedEvent
  | RetryRequestedEvent;

export type WorkflowEventType = WorkflowEvent['type'];

export const WORKFLOW_EVENT_TYPES: readonly WorkflowEventType[] = [
  'TICK',
  'SAFETY_RESULT',
  'ADMISSION_RESULT',
  'DRYRUN_RESULT',
  'APPROVED',
  'REJECTED',
  'STEP_RESULT',
  'STEP_STOPPED',
  'ROLLBACK_RESULT',
  'EFFECTIVENESS_RESULT',
  'CANCEL_REQUESTED',
  'ROLLBACK_REQUESTED',
  'RETRY_REQUESTED',
];
