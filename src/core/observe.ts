/**
 * What the shell saw -> events for the statechart. Pure and level-based: the same observation gives
 * the same events, and the machine ignores what it is not waiting for, so sending them every
 * reconcile is safe.
 */
import type { StepExecutionResult } from '../api/generated/types.ts';
import { awaitedStop, isSettled, runOf, type WorkflowContext } from '../../machines/context.ts';
import type {
  AdmissionVerdict,
  AlertmanagerState,
  EffectivenessObservation,
  SafetyCheckResult,
  WorkflowEvent,
} from '../../machines/events.ts';

export const ANNOTATION_PREFIX = 'workflowexecution.kubernaut.io';
export const APPROVED_BY = `${ANNOTATION_PREFIX}/approved-by`;
export const REJECTED_BY = `${ANNOTATION_PREFIX}/rejected-by`;
export const CANCEL_REQUESTED_BY = `${ANNOTATION_PREFIX}/cancel-requested-by`;
export const ROLLBACK_REQUESTED_BY = `${ANNOTATION_PREFIX}/rollback-requested-by`;
/** `<user>/<request id>`: the id makes each retry request one of its own (`wfx retry` uses the time). */
export const RETRY_REQUESTED_BY = `${ANNOTATION_PREFIX}/retry-requested-by`;

/** The retry annotation's value, split at its last `/`; without one the whole value names both. */
export function parseRetryRequest(value: string): { by: string; request: string } {
  const slash = value.lastIndexOf('/');
  return slash <= 0 || slash === value.length - 1
    ? { by: value, request: value }
    : { by: value.slice(0, slash), request: value.slice(slash + 1) };
}

export type ChildKind = 'step' | 'dryRun' | 'rollback';

export interface ObservedChild {
  kind: ChildKind;
  stepNumber: number;
  attempt: number;
  /** `stopped`: the attempt acknowledged a stop request and acts no more (STEP_STOPPED). */
  phase?: 'pending' | 'executing' | 'completed' | 'failed' | 'stopped';
  message?: string;
  result?: StepExecutionResult;
  /** Dry runs: whether the real step would succeed. */
  wouldSucceed?: boolean;
}

export interface Observation {
  now: number;
  children: readonly ObservedChild[];
  annotations: Readonly<Record<string, string>>;
  /** Results of the workflow's safety checks, once run. */
  safety?: SafetyCheckResult[];
  /** Alertmanager as asked with the safety checks (when configured, or the run names an alert). */
  alertmanager?: AlertmanagerState;
  /** Whether the run may start executing (its locks taken, no storm limit reached), once asked. */
  admission?: AdmissionVerdict;
  /** Result of the effectiveness check, once run. */
  effectiveness?: EffectivenessObservation;
}

/**
 * Whether the context can still take in this child's result. The machine ignores a result of a run
 * it has settled, so dropping those first changes nothing but the cost: a 150-step chain would
 * otherwise fold every earlier step's result through the machine again on each reconcile.
 */
export function stillAwaited(context: WorkflowContext, child: ObservedChild): boolean {
  switch (child.kind) {
    case 'dryRun':
      return context.dryRun[String(child.stepNumber)] === undefined;
    case 'step': {
      const run = runOf(context, child.stepNumber);
      return (
        run === undefined ||
        !isSettled(run.status) ||
        child.attempt > run.attempt ||
        awaitedStop(context, child.stepNumber, child.attempt) !== undefined
      );
    }
    case 'rollback': {
      const rollback = runOf(context, child.stepNumber)?.rollback;
      return rollback == null || rollback.status === 'running';
    }
  }
}

const KIND_ORDER: Record<ChildKind, number> = { dryRun: 0, step: 1, rollback: 2 };

const withMessage = <T extends object>(event: T, message: string | undefined): T & { message?: string } =>
  message === undefined ? event : { ...event, message };

export function observe(input: Observation): WorkflowEvent[] {
  const { now } = input;
  const events: WorkflowEvent[] = [{ type: 'TICK', now }];
  if (input.safety)
    events.push({
      type: 'SAFETY_RESULT',
      now,
      results: input.safety.map((r) => ({ ...r })),
      ...(input.alertmanager ? { alertmanager: input.alertmanager } : {}),
    });
  if (input.admission) events.push({ type: 'ADMISSION_RESULT', now, verdict: input.admission });
  const finished = input.children
    .filter(
      (c) => c.phase === 'completed' || c.phase === 'failed' || (c.phase === 'stopped' && c.kind === 'step'),
    )
    .sort(
      (a, b) =>
        KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || a.stepNumber - b.stepNumber || a.attempt - b.attempt,
    );
  for (const child of finished) {
    const succeeded = child.phase === 'completed';
    switch (child.kind) {
      case 'dryRun': {
        const ok = succeeded && child.wouldSucceed !== false;
        events.push(
          withMessage(
            {
              type: 'DRYRUN_RESULT' as const,
              now,
              step: child.stepNumber,
              outcome: ok ? 'succeeded' : 'failed',
            },
            child.message,
          ),
        );
        break;
      }
      case 'step': {
        if (child.phase === 'stopped') {
          const stopped = withMessage(
            { type: 'STEP_STOPPED' as const, now, step: child.stepNumber, attempt: child.attempt },
            child.message,
          );
          events.push(child.result ? { ...stopped, result: child.result } : stopped);
          break;
        }
        const base = withMessage(
          {
            type: 'STEP_RESULT' as const,
            now,
            step: child.stepNumber,
            attempt: child.attempt,
            outcome: succeeded ? ('succeeded' as const) : ('failed' as const),
          },
          child.message,
        );
        events.push(child.result ? { ...base, result: child.result } : base);
        break;
      }
      case 'rollback':
        events.push(
          withMessage(
            {
              type: 'ROLLBACK_RESULT' as const,
              now,
              step: child.stepNumber,
              outcome: succeeded ? ('succeeded' as const) : ('failed' as const),
            },
            child.message,
          ),
        );
        break;
    }
  }
  if (input.effectiveness) events.push({ type: 'EFFECTIVENESS_RESULT', now, ...input.effectiveness });
  const by = (key: string) => {
    const value = input.annotations[key]?.trim();
    return value === undefined || value === '' ? null : value;
  };
  // Rejection before approval: if both are present, the safer one wins.
  const rejectedBy = by(REJECTED_BY);
  if (rejectedBy !== null) events.push({ type: 'REJECTED', now, by: rejectedBy });
  const approvedBy = by(APPROVED_BY);
  if (approvedBy !== null) events.push({ type: 'APPROVED', now, by: approvedBy });
  const cancelBy = by(CANCEL_REQUESTED_BY);
  if (cancelBy !== null) events.push({ type: 'CANCEL_REQUESTED', now, by: cancelBy });
  const rollbackBy = by(ROLLBACK_REQUESTED_BY);
  if (rollbackBy !== null) events.push({ type: 'ROLLBACK_REQUESTED', now, by: rollbackBy });
  const retry = by(RETRY_REQUESTED_BY);
  if (retry !== null) events.push({ type: 'RETRY_REQUESTED', now, ...parseRetryRequest(retry) });
  return events;
}
