/**
 * Whether an executor picked the workflow's children up: a child that no executor claimed (no
 * status.claim, no startTime, still pending) longer than the bound after its creation means no
 * executor is running, or none can see it. The workflow then carries the ExecutorPickup condition
 * (False, reason ExecutorMissing) naming the steps, and gets an Event, until one is picked up. Read
 * from the children as typed data; the statechart is not involved (its step deadlines still run).
 */
import type { KubernetesExecution, WorkflowExecutionStatus } from '../api/generated/types.ts';
import {
  EXECUTOR_PICKUP_CONDITION,
  removeCondition,
  setCondition,
  type Condition,
} from '../api/conditions.ts';
import { STOP_REQUESTED_ANNOTATION } from '../api/stop-request.ts';
import { formatDuration } from '../core/duration.ts';
import { canonicalJson } from '../core/spec-hash.ts';

export const DEFAULT_PICKUP_TIMEOUT_MS = 60_000;
export const EXECUTOR_MISSING_REASON = 'ExecutorMissing';

export interface UnclaimedChild {
  name: string;
  kind: KubernetesExecution['spec']['kind'];
  step: number;
  attempt: number;
}

export interface PickupState {
  /** Children waiting longer than the bound, oldest step first. */
  overdue: UnclaimedChild[];
  /** When a child waiting now crosses the bound, if one does: look again then. */
  nextCheckInMs: number | undefined;
  boundMs: number;
}

const waitsForExecutor = (child: KubernetesExecution): boolean =>
  child.status?.claim === undefined &&
  child.status?.startTime === undefined &&
  (child.status?.phase ?? 'pending') === 'pending' &&
  child.metadata.annotations?.[STOP_REQUESTED_ANNOTATION] === undefined;

export function pickupState(
  children: readonly KubernetesExecution[],
  nowMs: number,
  boundMs: number,
): PickupState {
  const overdue: UnclaimedChild[] = [];
  let nextCheckInMs: number | undefined;
  for (const child of children) {
    if (!waitsForExecutor(child)) continue;
    const created = Date.parse(child.metadata.creationTimestamp ?? '');
    if (!Number.isFinite(created)) continue;
    const dueInMs = created + boundMs - nowMs;
    if (dueInMs <= 0)
      overdue.push({
        name: child.metadata.name ?? '',
        kind: child.spec.kind,
        step: child.spec.stepNumber,
        attempt: child.spec.attempt,
      });
    // creationTimestamp has whole seconds: a second more, so the look finds it overdue.
    else nextCheckInMs = Math.min(nextCheckInMs ?? Infinity, dueInMs + 1000);
  }
  overdue.sort((a, b) => a.step - b.step || a.name.localeCompare(b.name));
  return { overdue, nextCheckInMs, boundMs };
}

const describeChild = (c: UnclaimedChild): string =>
  c.kind === 'step'
    ? `step ${String(c.step)}`
    : c.kind === 'dryRun'
      ? `the dry run of step ${String(c.step)}`
      : `the rollback of step ${String(c.step)}`;

/** "no executor has picked up step 2 (child wf-step-2-a1) within 60s": the condition's and Event's words. */
export function pickupMessage(state: PickupState): string | undefined {
  if (state.overdue.length === 0) return undefined;
  const shown = state.overdue.slice(0, 5);
  const more =
    state.overdue.length > shown.length ? ` and ${String(state.overdue.length - shown.length)} more` : '';
  return `no executor has picked up ${shown.map(describeChild).join(', ')}${more} (child ${shown[0]?.name ?? ''}) within ${formatDuration(state.boundMs)}: is an executor (wfx executor) running, and allowed to claim KubernetesExecutions in this namespace?`;
}

/** The status with the ExecutorPickup condition set while children wait, and removed otherwise. */
export function withPickupCondition(
  status: WorkflowExecutionStatus,
  state: PickupState | undefined,
  generation: number,
  nowIso: string,
): WorkflowExecutionStatus {
  const conditions = (status.conditions ?? []) as Condition[];
  const message = state ? pickupMessage(state) : undefined;
  const next =
    message === undefined
      ? removeCondition(conditions, 'ExecutorPickup')
      : setCondition(
          conditions,
          { type: EXECUTOR_PICKUP_CONDITION, status: 'False', reason: EXECUTOR_MISSING_REASON, message },
          generation,
          nowIso,
        );
  if (next.length === conditions.length && message === undefined) return status;
  return { ...status, conditions: next };
}

/** The condition's message when it was just set or changed: what the Event says. */
export function newPickupWarning(
  before: WorkflowExecutionStatus | undefined,
  after: WorkflowExecutionStatus,
): string | undefined {
  const find = (s: WorkflowExecutionStatus | undefined) =>
    s?.conditions?.find((c) => c.type === EXECUTOR_PICKUP_CONDITION && c.status === 'False')?.message;
  const now = find(after);
  return now !== undefined && now !== find(before) ? now : undefined;
}

/** The child without what a claim renewal changes (its renewTime, and the object's version). */
function withoutRenewal(child: KubernetesExecution): unknown {
  const {
    resourceVersion: _version,
    managedFields: _fields,
    ...metadata
  } = child.metadata as Record<string, unknown>;
  const claim = child.status?.claim;
  return {
    ...child,
    metadata,
    ...(child.status
      ? { status: { ...child.status, ...(claim ? { claim: { ...claim, renewTime: '' } } : {}) } }
      : {}),
  };
}

/** Whether `after` differs from `before` only by a renewal of the same executor's claim. */
export function onlyClaimRenewed(before: KubernetesExecution, after: KubernetesExecution): boolean {
  if (before.status?.claim === undefined || after.status?.claim === undefined) return false;
  return canonicalJson(withoutRenewal(before)) === canonicalJson(withoutRenewal(after));
}
