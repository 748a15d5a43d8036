/**
 * kstatus conditions (Ready, Reconciling, Stalled, Succeeded). Reconciling and Stalled are
 * "abnormal-true" conditions: present and True only while the state holds, so Argo CD, Flux and
 * `kubectl wait --for=condition=Ready` read the resource right.
 */

export type ConditionStatus = 'True' | 'False' | 'Unknown';
export type ConditionType =
  | 'Ready'
  | 'Reconciling'
  | 'Stalled'
  | 'Succeeded'
  | 'RetryRequest'
  | 'ExecutorPickup'
  | 'SafetyChecks'
  | 'Blocked'
  /** Alertmanager answered (Reachable), did not (Unreachable), or none is configured for a run naming an alert (NotConfigured). */
  | 'AlertmanagerReachable'
  /** The alert the run remediates (spec.alertRef): Resolved, AlertStillFiring, or Unknown and why. */
  | 'AlertResolved';

/**
 * True while a validated run waits to start executing: reason `TargetBusy` (another run holds a lock
 * of one of its targets, named in the message with that run), `ExecutionLimit` (a storm limit is
 * reached), or a target's cooldown: `RecentlyRemediated`, `Backoff`, `TargetFailing` (naming the
 * earlier run and when the wait ends); absent otherwise (src/core/status-conditions.ts).
 */
export const BLOCKED_CONDITION = 'Blocked' satisfies ConditionType;

/**
 * False (reason ExecutorMissing) while a child of the workflow waits longer than the operator's
 * bound for an executor to pick it up; absent otherwise (src/shell/executor-pickup.ts).
 */
export const EXECUTOR_PICKUP_CONDITION = 'ExecutorPickup' satisfies ConditionType;

export interface Condition {
  type: string;
  status: ConditionStatus;
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export interface ConditionInput {
  type: ConditionType;
  status: ConditionStatus;
  reason: string;
  message: string;
}

/**
 * Sets a condition, keeping its lastTransitionTime when the status does not change (as
 * apimachinery's meta.SetStatusCondition does). Returns a new list; conditions stay sorted by type
 * so the status is byte-stable from one reconcile to the next.
 */
export function setCondition(
  conditions: readonly Condition[],
  input: ConditionInput,
  generation: number,
  nowIso: string,
): Condition[] {
  const existing = conditions.find((c) => c.type === input.type);
  const next: Condition = {
    type: input.type,
    status: input.status,
    observedGeneration: generation,
    lastTransitionTime: existing && existing.status === input.status ? existing.lastTransitionTime : nowIso,
    reason: input.reason,
    message: input.message,
  };
  return [...conditions.filter((c) => c.type !== input.type), next].sort((a, b) =>
    a.type.localeCompare(b.type),
  );
}

export function removeCondition(conditions: readonly Condition[], type: ConditionType): Condition[] {
  return conditions.filter((c) => c.type !== type);
}

export const findCondition = (conditions: readonly Condition[] | undefined, type: ConditionType) =>
  conditions?.find((c) => c.type === type);

export const isTrue = (conditions: readonly Condition[] | undefined, type: ConditionType): boolean =>
  findCondition(conditions, type)?.status === 'True';

/** Where the resource stands, in kstatus terms; every writer of conditions goes through this. */
export type Health =
  | { state: 'inProgress'; reason: string; message: string }
  | { state: 'succeeded'; reason: string; message: string }
  | { state: 'failed'; reason: string; message: string }
  | { state: 'stalled'; reason: string; message: string };

/** The full set of kstatus conditions for a health state. */
export function conditionsFor(
  previous: readonly Condition[],
  health: Health,
  generation: number,
  nowIso: string,
): Condition[] {
  const { reason, message } = health;
  let next: Condition[] = [...previous];
  const set = (type: ConditionType, status: ConditionStatus) => {
    next = setCondition(next, { type, status, reason, message }, generation, nowIso);
  };
  switch (health.state) {
    case 'inProgress':
      set('Ready', 'False');
      set('Reconciling', 'True');
      next = removeCondition(next, 'Stalled');
      next = removeCondition(next, 'Succeeded');
      break;
    case 'succeeded':
      set('Ready', 'True');
      set('Succeeded', 'True');
      next = removeCondition(removeCondition(next, 'Reconciling'), 'Stalled');
      break;
    case 'failed':
      // A finished, failed run is not stalled: the controller did all it could and says so.
      set('Ready', 'False');
      set('Succeeded', 'False');
      next = removeCondition(removeCondition(next, 'Reconciling'), 'Stalled');
      break;
    case 'stalled':
      set('Ready', 'False');
      set('Stalled', 'True');
      next = removeCondition(next, 'Reconciling');
      break;
  }
  return next;
}
