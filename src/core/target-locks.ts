/**
 * Per-target locks and admission to executing (DESIGN 12): what a run locks, under which Lease name,
 * who holds a lock, whether a holder's lock may be reclaimed, and the storm limits. Pure: the shell
 * (src/shell/admission.ts) reads and writes the Leases and counts the runs; the machine is told the
 * verdict as typed data (ADMISSION_RESULT) and records why it waits.
 */
import type { TargetResource } from '../api/actions.ts';
import type { WorkflowExecution, WorkflowStep } from '../api/generated/types.ts';
import type { AdmissionBlock } from '../../machines/events.ts';
import type { ResolvedSpec } from '../api/resolved-spec.ts';
import { retryUndecided, rollbackUndecided } from './finished-workflow.ts';
import { fnv1a64 } from './spec-hash.ts';
import { describeTarget, targetOf } from './targets.ts';
import { isoOf } from './time.ts';

/** What the operator's Lease of a target is labelled with, so `kubectl get leases -l` lists them. */
export const LOCK_LABEL = 'workflowexecution.kubernaut.io/target-lock';
export const LOCK_NAME_PREFIX = 'wfe-target-';

/** One object a run acts on, as a lock. */
export interface LockTarget {
  /** `cluster|group|kind|namespace|name`: the identity of the object, hashed into the Lease name. */
  key: string;
  /** `Deployment shop/web` (with ` on cluster east` for another cluster): how messages name it. */
  description: string;
  /** The Lease that locks it: `wfe-target-<16 hex>`. */
  lease: string;
  /** A Node locked for the pods the run acts on that run there (FOR_PODS_LABEL). */
  forPods?: true;
}

/**
 * Set on the lock of a Node taken for the pods a run acts on (not for a step of its own on the
 * Node): released without leaving a cooldown on the Node, and found by this label at release, when
 * the pods may have moved.
 */
export const FOR_PODS_LABEL = 'workflowexecution.kubernaut.io/target-lock-for-pods';

function lockOf(cluster: string, target: TargetResource): LockTarget {
  // A selector's pods are one target per selector: the pods it matches are not known in advance.
  const object = target.name || `selector:${target.selector ?? ''}`;
  const key = [cluster, target.group, target.kind, target.namespace, object].join('|');
  return {
    key,
    description: `${describeTarget(target)}${cluster ? ` on cluster ${cluster}` : ''}`,
    lease: `${LOCK_NAME_PREFIX}${fnv1a64(key)}`,
  };
}

/** The lock of one step's target; undefined for a step that names no object (a custom action). */
export function lockTargetOf(step: WorkflowStep): LockTarget | undefined {
  const target = targetOf(step);
  return target ? lockOf(step.targetCluster ?? '', target) : undefined;
}

/**
 * The pods the run's pod steps act on in this cluster (by name or by selector): the Nodes they run on
 * are locked too, so a drain of a Node and a restart of a pod on it never run at the same time.
 */
export function podTargetsOf(spec: ResolvedSpec): { namespace: string; name: string; selector?: string }[] {
  return spec.workflowDefinition.steps.flatMap((step) => {
    const target = targetOf(step);
    if (target?.kind !== 'Pod' || (step.targetCluster ?? '') !== '') return [];
    return [
      {
        namespace: target.namespace,
        name: target.name,
        ...(target.selector ? { selector: target.selector } : {}),
      },
    ];
  });
}

/** The lock of a Node taken for pods on it: the same Lease as a step's on that Node. */
export function nodeLockFor(nodeName: string): LockTarget {
  return lockOf('', {
    group: '',
    resource: 'nodes',
    kind: 'Node',
    namespace: '',
    name: nodeName,
    verb: 'patch',
  });
}

/**
 * A run's locks: its targets', and the Nodes of its pods (`forPods`) that are not a target of its
 * own, in Lease-name order (the order every run takes its locks in).
 */
export function withNodeLocks(own: readonly LockTarget[], nodes: readonly LockTarget[]): LockTarget[] {
  const byLease = new Map<string, LockTarget>(own.map((l) => [l.lease, l]));
  for (const node of nodes) if (!byLease.has(node.lease)) byLease.set(node.lease, { ...node, forPods: true });
  return [...byLease.values()].sort((a, b) => a.lease.localeCompare(b.lease));
}

/**
 * Every target a run locks, once each, in Lease-name order: every run takes its locks in the same
 * order, so two runs wanting the same two targets never hold one each and wait for the other.
 */
export function lockTargetsOf(spec: ResolvedSpec): LockTarget[] {
  const byLease = new Map<string, LockTarget>();
  for (const step of spec.workflowDefinition.steps) {
    const lock = lockTargetOf(step);
    if (lock) byLease.set(lock.lease, lock);
  }
  return [...byLease.values()].sort((a, b) => a.lease.localeCompare(b.lease));
}

/** The run a lock is held by. */
export interface LockHolder {
  namespace: string;
  name: string;
  uid: string;
}

/** A Lease's holderIdentity: `namespace/name/uid` (the uid tells a run from a later one of the same name). */
export const holderIdentity = (h: LockHolder): string => `${h.namespace}/${h.name}/${h.uid}`;

export function parseHolder(identity: string): LockHolder | undefined {
  const [namespace, name, uid, ...rest] = identity.split('/');
  if (!namespace || !name || !uid || rest.length > 0) return undefined;
  return { namespace, name, uid };
}

/** `shop/first`: how messages name the run holding a lock. */
export const describeHolder = (identity: string): string => {
  const h = parseHolder(identity);
  return h ? `${h.namespace}/${h.name}` : identity;
};

/**
 * What the apiserver says of a lock's holder, read live: its uid, its phase, and whether a retry or a
 * rollback it was asked for is still undecided (it may have taken its locks for it already).
 */
export type HolderState =
  { kind: 'gone' } | { kind: 'exists'; uid: string; phase: string; requestPending: boolean };

export function holderStateOf(wf: WorkflowExecution): HolderState {
  const phase = wf.status?.phase ?? 'planning';
  return {
    kind: 'exists',
    uid: wf.metadata.uid ?? '',
    phase,
    requestPending: phase === 'failed' && (retryUndecided(wf) || rollbackUndecided(wf)),
  };
}

/**
 * Phases in which a run acts (or may act) on its targets: its locks are held. Planning too: a run's
 * first reconcile may go from planning through validation to admission, and take its locks, before
 * the status write that shows it past planning.
 */
const HOLDING_PHASES: ReadonlySet<string> = new Set([
  'planning',
  'validating',
  'executing',
  'monitoring',
  'rolling_back',
]);

/**
 * Whether a lock held by `identity` may be taken: nobody holds it; its holder is gone (deleted, or a
 * new run of the same name); or its holder settled (completed or failed) without releasing it, as an
 * operator stopped between its last status write and the release leaves it. A run in planning or
 * validating may have taken it just before the write that starts executing, and a failed run with a
 * retry or rollback request not yet decided just before the write that takes it back to validating.
 */
export function reclaimable(identity: string, state: HolderState): boolean {
  if (identity === '') return true;
  const holder = parseHolder(identity);
  if (!holder || state.kind === 'gone') return true;
  if (state.uid !== holder.uid) return true;
  return !HOLDING_PHASES.has(state.phase) && !state.requestPending;
}

/** The storm limits (operator flags): at most this many runs executing; 0: no limit. */
export interface ExecutionLimits {
  perNamespace: number;
  cluster: number;
}

export const NO_EXECUTION_LIMITS: ExecutionLimits = { perNamespace: 0, cluster: 0 };

/** Phases a storm limit counts: the ones that act on targets. */
export const COUNTED_PHASES: ReadonlySet<string> = new Set(['executing', 'rolling_back']);

/** How many runs execute now, in the run's namespace and in all watched namespaces. */
export interface ExecutingCounts {
  namespace: number;
  cluster: number;
}

/** The storm limit a run about to execute would pass, or null when it may. */
export function executionLimitBlock(
  limits: ExecutionLimits,
  counts: ExecutingCounts,
): Extract<AdmissionBlock, { reason: 'ExecutionLimit' }> | null {
  if (limits.perNamespace > 0 && counts.namespace >= limits.perNamespace)
    return { reason: 'ExecutionLimit', scope: 'namespace', limit: limits.perNamespace };
  if (limits.cluster > 0 && counts.cluster >= limits.cluster)
    return { reason: 'ExecutionLimit', scope: 'cluster', limit: limits.cluster };
  return null;
}

/** Why a run waits, in words, from the typed block (conditions, Events, failure messages). */
export function describeBlock(block: AdmissionBlock): string {
  switch (block.reason) {
    case 'TargetBusy':
      return `${block.target} is locked by WorkflowExecution ${describeHolder(block.holder)}`;
    case 'ExecutionLimit':
      return block.scope === 'namespace'
        ? `${block.limit} ${block.limit === 1 ? 'workflow executes' : 'workflows execute'} in this namespace, the limit (--max-executing-per-namespace)`
        : `${block.limit} ${block.limit === 1 ? 'workflow executes' : 'workflows execute'} in the cluster, the limit (--max-executing)`;
    case 'RecentlyRemediated':
      return `${block.target} was remediated by WorkflowExecution ${block.run}; its cooldown ends at ${iso(block.until)}`;
    case 'TargetFailing':
      return `${block.target} failed ${block.failures} runs in a row, the last WorkflowExecution ${block.run}; it is left alone until ${iso(block.until)}`;
    case 'Backoff':
      return `${block.target} failed ${block.failures === 1 ? 'its last run' : `${block.failures} runs in a row`}, WorkflowExecution ${block.run}; backing off until ${iso(block.until)}`;
  }
}

/** A time as messages show it: to the second, UTC. */
const iso = (ms: number): string => isoOf(ms).replace(/\.\d{3}Z$/, 'Z');

/**
 * When a blocked run asks again: soon at first, then less often the longer it has waited (a quarter
 * of the wait so far, between 1 and 10 seconds). Pure, so every replica asks on the same schedule.
 */
export function admissionRetryMs(blockedSince: number, now: number): number {
  return Math.min(10_000, Math.max(1000, Math.floor((now - blockedSince) / 4)));
}
