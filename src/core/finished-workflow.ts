/**
 * What the operator keeps in memory of a finished workflow (issue 13: 10,000 finished in 200 MB):
 * not its spec, snapshot and step statuses, only what shows it is finished and needs nothing, and
 * what the metrics read (phase, the Ready condition). A finished workflow's children are kept as
 * their names alone. Whatever needs more reads the workflow live.
 */
import type {
  KubernetesExecution,
  ObjectMeta,
  WorkflowExecution,
  WorkflowExecutionStatus,
} from '../api/generated/types.ts';
import { RETRY_REQUESTED_BY, ROLLBACK_REQUESTED_BY, parseRetryRequest } from './observe.ts';

/** A finished workflow as cached: no spec; of the status its phase, generation and Ready condition. */
export interface FinishedWorkflow {
  apiVersion: WorkflowExecution['apiVersion'];
  kind: WorkflowExecution['kind'];
  metadata: ObjectMeta;
  status: Pick<WorkflowExecutionStatus, 'phase' | 'observedGeneration' | 'conditions'>;
}

/** A child of a finished workflow as cached: its identity and owner, nothing it reported. */
export interface FinishedChild {
  apiVersion: KubernetesExecution['apiVersion'];
  kind: KubernetesExecution['kind'];
  metadata: ObjectMeta;
}

// A view kept in place may still have a `spec` member, undefined (src/shell/informer.ts keepOnly).
export const isFinishedView = (wf: WorkflowExecution | FinishedWorkflow): wf is FinishedWorkflow =>
  (wf as Partial<WorkflowExecution>).spec === undefined;

export const isFinishedChild = (child: KubernetesExecution | FinishedChild): child is FinishedChild =>
  (child as Partial<KubernetesExecution>).spec === undefined;

/** States in which the machine can never move again (the persisted value, any machine version). */
const isFinalState = (value: unknown): boolean =>
  value === 'completed' ||
  (typeof value === 'object' &&
    value !== null &&
    (value as Record<string, unknown>)['failed'] === 'terminal');

/**
 * A retry request (`wfx retry`) the machine has neither accepted nor refused yet: even a completed
 * or terminally failed run must be reconciled once more to decide it.
 */
export function retryUndecided({ metadata, status }: WorkflowExecution): boolean {
  const value = metadata.annotations?.[RETRY_REQUESTED_BY];
  if (value === undefined) return false;
  const { request } = parseRetryRequest(value);
  const retries = status?.retries;
  return retries?.refused?.request !== request && !retries?.history?.some((r) => r.request === request);
}

/** A rollback requested (`wfx rollback`) of a failed run that awaits one and has not started it yet. */
export function rollbackUndecided({ metadata, status }: WorkflowExecution): boolean {
  if ((metadata.annotations?.[ROLLBACK_REQUESTED_BY]?.trim() ?? '') === '') return false;
  const value = status?.statechart?.snapshot['value'];
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Record<string, unknown>)['failed'] === 'awaitingRollback'
  );
}

/**
 * Whether nothing can change a workflow any more: finished in a state the machine never leaves (a
 * failed run awaiting a manual rollback is not), or refused for its spec, with its spec observed
 * and the finalizer in place, not being deleted. Its reconcile would write nothing.
 */
export function isSettled(wf: WorkflowExecution, finalizer: string): boolean {
  const { metadata, status } = wf;
  if (metadata.deletionTimestamp !== undefined || !metadata.finalizers?.includes(finalizer)) return false;
  if (status?.observedGeneration === undefined || status.observedGeneration !== metadata.generation)
    return false;
  if (status.phase !== 'completed' && status.phase !== 'failed') return false;
  if (retryUndecided(wf)) return false;
  if (status.statechart) return isFinalState(status.statechart.snapshot['value']);
  return status.conditions?.find((c) => c.type === 'Ready')?.reason === 'InvalidSpec';
}

/** What the cache keeps of metadata when it keeps little: identity, labels, owners, finalizers. */
const ESSENTIAL_METADATA = [
  'name',
  'namespace',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'labels',
  'finalizers',
  'ownerReferences',
] as const;

const essentialMetadata = (metadata: ObjectMeta): ObjectMeta =>
  Object.fromEntries(
    ESSENTIAL_METADATA.flatMap((key) => (metadata[key] === undefined ? [] : [[key, metadata[key]]])),
  );

/** The view of a settled workflow (see `isSettled`), or undefined: keep all of it. */
export function finishedView(wf: WorkflowExecution, finalizer: string): FinishedWorkflow | undefined {
  if (!isSettled(wf, finalizer) || !wf.status) return undefined;
  const ready = wf.status.conditions?.find((c) => c.type === 'Ready');
  return {
    apiVersion: wf.apiVersion,
    kind: wf.kind,
    metadata: essentialMetadata(wf.metadata),
    status: {
      ...(wf.status.phase !== undefined ? { phase: wf.status.phase } : {}),
      ...(wf.status.observedGeneration !== undefined
        ? { observedGeneration: wf.status.observedGeneration }
        : {}),
      ...(ready ? { conditions: [ready] } : {}),
    },
  };
}

/** A child of a finished workflow, as the cache keeps it. */
export function finishedChild(child: KubernetesExecution | FinishedChild): FinishedChild {
  return { apiVersion: child.apiVersion, kind: child.kind, metadata: essentialMetadata(child.metadata) };
}
