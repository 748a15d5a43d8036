/**
 * Admission, the shell's half (src/core/target-locks.ts decides): the last gate of validation. A run
 * may start executing once no storm limit is reached and it holds the lock of every object its steps
 * touch: a coordination.k8s.io/v1 Lease per target in the operator's namespace, named after the
 * target, held by the run (`namespace/name/uid`), taken all or none in Lease-name order, written with
 * the read resourceVersion as precondition (src/shell/leases.ts). The lock lives in the apiserver, so
 * it holds across replicas, shards and restarts. A run releases its locks when it settles or is
 * deleted; a lock whose holder is gone or settled is reclaimed by the next run that wants it.
 *
 * Storm limits are counted from the informer's cache of workflows (executing or rolling back), plus
 * the runs this process admitted that the cache does not show executing yet. Admissions in one
 * process are taken one at a time; two replicas admitting at the same moment may each count the other
 * one short, so the limit can be passed by at most one run per other replica admitting within a
 * cache's lag (docs/how-to/target-locks.md).
 *
 * Cooldown and backoff (src/core/target-cooldown.ts decides) remember each target's last outcome on
 * its lock Lease: a run that settles does not delete the Lease but hands it back unheld, annotated
 * with its outcome, when and how many failures in a row; the next run reads them before it takes the
 * lock. A Lease whose history no rule reads any more is deleted (by the next run's release, or by the
 * sweep that admissions and releases run at most once a minute), so Leases do not accumulate.
 */
import type { WorkflowExecution } from '../api/generated/types.ts';
import { resolvedSpecOf } from '../api/resolved-spec.ts';
import type { AdmissionVerdict } from '../../machines/events.ts';
import { parseDuration } from '../core/duration.ts';
import { isFinishedView, type FinishedWorkflow } from '../core/finished-workflow.ts';
import {
  COUNTED_PHASES,
  FOR_PODS_LABEL,
  LOCK_LABEL,
  describeHolder,
  executionLimitBlock,
  holderIdentity,
  holderStateOf,
  lockTargetsOf,
  nodeLockFor,
  parseHolder,
  podTargetsOf,
  withNodeLocks,
  reclaimable,
  type ExecutingCounts,
  type ExecutionLimits,
  type HolderState,
  type LockTarget,
} from '../core/target-locks.ts';
import {
  cooldownBlock,
  policyForRun,
  historyAnnotations,
  historyEndsAt,
  historyFromAnnotations,
  recordOutcome,
  remembers,
  HISTORY_ANNOTATIONS,
  NO_COOLDOWN,
  type CooldownPolicy,
  type TargetHistory,
} from '../core/target-cooldown.ts';
import { eventTargetOf, type EventRecorder } from './events.ts';
import type { ResourceInformer } from './informer.ts';
import { isNotFound, type KubeClient } from './kube/client.ts';
import { PODS, WORKFLOW_EXECUTIONS, resourcePath } from './kube/resources.ts';
import { DEFAULT_TIMINGS, LeaseStore, type Lease } from './leases.ts';
import type { Logger } from './logger.ts';
import type { OperatorMetrics } from './metrics.ts';

export interface AdmissionConfig {
  /** Where the target lock Leases live: the operator's namespace (kubernaut-system by default). */
  lockNamespace: string;
  limits: ExecutionLimits;
  /** Cooldown and backoff per target (default: none). */
  cooldown?: CooldownPolicy | undefined;
}

export const DEFAULT_LOCK_NAMESPACE = 'kubernaut-system';

/** A run this process admitted counts as executing this long, or until the cache shows it so. */
const ADMITTED_UNSEEN_MS = 30_000;
/** How often the unheld Leases whose history ended are looked for and deleted. */
const SWEEP_EVERY_MS = 60_000;
/** Writes of one lock lost to another writer before the admission gives up for this reconcile. */
const LOCK_TRIES = 3;

type CachedWorkflow = WorkflowExecution | FinishedWorkflow;

const keyOf = (w: { metadata: { namespace?: string; name?: string } }): string =>
  `${w.metadata.namespace ?? ''}/${w.metadata.name ?? ''}`;

/** What taking one lock came to. */
type Take =
  | { kind: 'held' }
  | { kind: 'taken'; reclaimedFrom: string | null }
  | { kind: 'busy'; holder: string }
  | { kind: 'cooling'; block: NonNullable<ReturnType<typeof cooldownBlock>> };

/** What admission reads of a pod: where it runs. */
interface PodOnNode {
  spec?: { nodeName?: string };
}

export class Admission {
  private readonly client: KubeClient;
  private readonly config: AdmissionConfig;
  private readonly workflows: ResourceInformer<CachedWorkflow>;
  private readonly recorder: EventRecorder;
  private readonly metrics: OperatorMetrics | undefined;
  /** Runs admitted by this process (key -> when) that the cache may not show executing yet. */
  private readonly admitted = new Map<string, number>();
  /** Admissions of this process, one at a time, so none counts short by another's. */
  private serial: Promise<unknown> = Promise.resolve();
  /** When this process last swept the Leases whose history ended. */
  private sweptAt: number | undefined;

  constructor(options: {
    client: KubeClient;
    config: AdmissionConfig;
    workflows: ResourceInformer<CachedWorkflow>;
    recorder: EventRecorder;
    metrics?: OperatorMetrics | undefined;
  }) {
    this.client = options.client;
    this.config = options.config;
    this.workflows = options.workflows;
    this.recorder = options.recorder;
    this.metrics = options.metrics;
  }

  /** The Leases of one holder: LeaseStore writes as its identity. */
  private storeFor(holder: string): LeaseStore {
    return new LeaseStore(this.client, {
      namespace: this.config.lockNamespace,
      identity: holder,
      timings: DEFAULT_TIMINGS,
    });
  }

  /**
   * Whether the run may execute now: no storm limit reached and every lock taken (a lock it already
   * holds counts). When it may not, it holds none of its locks afterwards. Throws when the apiserver
   * could not be asked: no verdict, asked again. A retry or rollback a person asked for (`requested`)
   * is held back by no cooldown or backoff: those keep automation from acting again, not a person.
   */
  admit(workflow: WorkflowExecution, now: number, log: Logger, requested = false): Promise<AdmissionVerdict> {
    const next = this.serial.then(() => this.admitNow(workflow, now, log, requested));
    this.serial = next.catch(() => undefined);
    return next;
  }

  private async admitNow(
    workflow: WorkflowExecution,
    now: number,
    log: Logger,
    requested: boolean,
  ): Promise<AdmissionVerdict> {
    const key = keyOf(workflow);
    const targets = await this.locksOf(workflow);
    const holder = this.holderOf(workflow);
    const limit = executionLimitBlock(this.config.limits, this.executing(workflow, now));
    if (limit) {
      await this.releaseHeld(targets, holder, now);
      return { admitted: false, block: limit };
    }
    await this.sweepNow(now, log);
    const store = this.storeFor(holder);
    const override = resolvedSpecOf(workflow)?.executionStrategy.targetCooldown;
    const policy = requested
      ? NO_COOLDOWN
      : policyForRun(this.cooldown, override === undefined ? undefined : parseDuration(override));
    const taken: LockTarget[] = [];
    for (const target of targets) {
      const take = await this.take(store, target, policy, now);
      if (take.kind === 'cooling') {
        await this.releaseHeld(targets, holder, now);
        log.info('target cooling down', { target: target.description, reason: take.block.reason });
        return { admitted: false, block: take.block };
      }
      if (take.kind === 'busy') {
        // All or none: a run that waits holds nothing another run could need.
        await this.releaseHeld(targets, holder, now);
        log.info('target busy', { target: target.description, holder: take.holder });
        return {
          admitted: false,
          block: { reason: 'TargetBusy', target: target.description, holder: take.holder },
        };
      }
      if (take.kind === 'taken') {
        taken.push(target);
        this.metrics?.targetLockOperationsTotal.inc({ operation: 'acquired' });
        if (take.reclaimedFrom !== null) {
          this.metrics?.targetLockOperationsTotal.inc({ operation: 'reclaimed' });
          log.info('target lock reclaimed', { target: target.description, from: take.reclaimedFrom });
        }
      }
    }
    this.admitted.set(key, now);
    if (taken.length > 0) {
      log.info('target locks taken', { targets: taken.map((t) => t.description).join(', ') });
      await this.recorder.record(
        eventTargetOf(workflow),
        {
          type: 'Normal',
          reason: 'TargetLocked',
          note: `locked ${taken.map((t) => `${t.description} (Lease ${this.config.lockNamespace}/${t.lease})`).join(', ')}`,
          action: 'Lock',
        },
        now,
      );
    }
    return { admitted: true };
  }

  /**
   * Releases the run's locks (those it still holds): it settled, or it is being deleted. Best effort:
   * a lock left behind is reclaimed by the next run that wants it, its holder being gone or settled.
   */
  async release(
    workflow: WorkflowExecution,
    why: 'settled' | 'deleted',
    now: number,
    log: Logger,
  ): Promise<void> {
    this.admitted.delete(keyOf(workflow));
    const phase = workflow.status?.phase;
    const outcome = why === 'settled' && (phase === 'completed' || phase === 'failed') ? phase : undefined;
    const holder = this.holderOf(workflow);
    const released = await this.releaseHeld(
      [...this.targetsOf(workflow), ...(await this.nodeLocksHeldBy(workflow, holder))],
      holder,
      now,
      outcome && { run: keyOf(workflow), outcome },
    );
    await this.sweepNow(now, log);
    if (released.length === 0) return;
    this.metrics?.targetLockOperationsTotal.inc({ operation: 'released' }, released.length);
    log.info('target locks released', { targets: released.map((t) => t.description).join(', '), why });
    await this.recorder.record(
      eventTargetOf(workflow),
      {
        type: 'Normal',
        reason: 'TargetReleased',
        note: `released ${released.map((t) => t.description).join(', ')} (${why === 'settled' ? `the run ${workflow.status?.phase ?? 'settled'}` : 'the run was deleted'})`,
        action: 'Unlock',
      },
      now,
    );
  }

  private targetsOf(workflow: WorkflowExecution): LockTarget[] {
    const spec = resolvedSpecOf(workflow);
    return spec ? lockTargetsOf(spec) : [];
  }

  /**
   * The run's locks when it asks to execute: its targets', and the Node each pod it acts on runs on
   * now (read live), so that a drain of that Node and the pod's restart never run at the same time.
   */
  private async locksOf(workflow: WorkflowExecution): Promise<LockTarget[]> {
    const spec = resolvedSpecOf(workflow);
    if (!spec) return [];
    const nodes = new Set<string>();
    for (const pod of podTargetsOf(spec)) {
      const path = resourcePath(PODS, pod.namespace, pod.name || undefined);
      const found = pod.name
        ? await this.client.request<PodOnNode>(path).then(
            (p) => [p],
            (error: unknown) => {
              if (isNotFound(error)) return [];
              throw error;
            },
          )
        : (
            await this.client.request<{ items: PodOnNode[] }>(path, {
              query: { labelSelector: pod.selector },
            })
          ).items;
      for (const p of found) if (p.spec?.nodeName) nodes.add(p.spec.nodeName);
    }
    return withNodeLocks(lockTargetsOf(spec), [...nodes].map(nodeLockFor));
  }

  /** The Node locks this holder took for its pods: found by label, wherever the pods are now. */
  private async nodeLocksHeldBy(workflow: WorkflowExecution, holder: string): Promise<LockTarget[]> {
    const spec = resolvedSpecOf(workflow);
    if (!spec || podTargetsOf(spec).length === 0) return [];
    const leases = await this.storeFor(holder).list(FOR_PODS_LABEL);
    return leases
      .filter((lease) => lease.spec.holderIdentity === holder)
      .map((lease) => ({
        key: '',
        description: `Node ${lease.metadata.labels?.[FOR_PODS_LABEL] ?? lease.metadata.name}`,
        lease: lease.metadata.name,
        forPods: true as const,
      }));
  }

  private holderOf(workflow: WorkflowExecution): string {
    return holderIdentity({
      namespace: workflow.metadata.namespace ?? '',
      name: workflow.metadata.name ?? '',
      uid: workflow.metadata.uid ?? '',
    });
  }

  private get cooldown(): CooldownPolicy {
    return this.config.cooldown ?? NO_COOLDOWN;
  }

  /** The history a Lease carries that a rule still reads at `now`; undefined past its end. */
  private historyOf(lease: Lease | undefined, now: number): TargetHistory | undefined {
    const history = historyFromAnnotations(lease?.metadata.annotations);
    return history && now < historyEndsAt(this.cooldown, history) ? history : undefined;
  }

  /**
   * Releases each of these Leases the holder holds (that version only); returns the ones released.
   * A run that settled leaves its outcome on the Lease, unheld, when the policy remembers it; a Lease
   * that carries no history still read is deleted.
   */
  private async releaseHeld(
    targets: readonly LockTarget[],
    holder: string,
    now: number,
    settled?: { run: string; outcome: 'completed' | 'failed' },
  ): Promise<LockTarget[]> {
    const store = this.storeFor(holder);
    const released: LockTarget[] = [];
    for (const target of targets) {
      const lease = await store.get(target.lease);
      if (lease?.spec.holderIdentity !== holder) continue;
      const previous = this.historyOf(lease, now);
      const history = target.forPods
        ? previous
        : settled && remembers(this.cooldown, settled.outcome)
          ? recordOutcome(previous, settled.run, settled.outcome, now)
          : settled
            ? undefined
            : previous;
      if (history) await this.handBack(lease, history);
      else await store.delete(target.lease, lease.metadata.resourceVersion);
      released.push(target);
    }
    return released;
  }

  /** Writes the Lease unheld with this history (its resourceVersion as precondition); best effort. */
  private async handBack(lease: Lease, history: TargetHistory): Promise<void> {
    const kept = Object.fromEntries(
      Object.entries(lease.metadata.annotations ?? {}).filter(
        ([key]) => !(Object.values(HISTORY_ANNOTATIONS) as string[]).includes(key),
      ),
    );
    const body: Lease = {
      ...lease,
      metadata: { ...lease.metadata, annotations: { ...kept, ...historyAnnotations(history) } },
      spec: { ...lease.spec, holderIdentity: '' },
    };
    await this.client
      .request(
        `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.config.lockNamespace)}/leases/${lease.metadata.name}`,
        {
          method: 'PUT',
          body,
          lane: 'lease',
        },
      )
      .catch(() => undefined);
  }

  /**
   * Deletes the unheld lock Leases whose history ended (or that carry none), at most once a minute:
   * a target nobody acts on again leaves no Lease behind for longer than its longest window.
   */
  private async sweepNow(now: number, log: Logger): Promise<void> {
    if (this.sweptAt !== undefined && now - this.sweptAt < SWEEP_EVERY_MS) return;
    this.sweptAt = now;
    try {
      const store = this.storeFor('');
      for (const lease of await store.list(LOCK_LABEL)) {
        if ((lease.spec.holderIdentity ?? '') !== '' || this.historyOf(lease, now)) continue;
        await store.delete(lease.metadata.name, lease.metadata.resourceVersion);
      }
    } catch (error) {
      log.warn('target lock sweep failed', { error: (error as Error).message });
    }
  }

  /** Takes one lock: already the holder's, free, or reclaimed from a holder gone or settled. */
  private async take(
    store: LeaseStore,
    target: LockTarget,
    policy: CooldownPolicy,
    now: number,
  ): Promise<Take> {
    // A Node locked for pods on it is named in its label (a label value holds most node names).
    const node = target.description.slice('Node '.length);
    const labels = {
      [LOCK_LABEL]: 'true',
      ...(target.forPods
        ? { [FOR_PODS_LABEL]: /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(node) ? node : 'true' }
        : {}),
    };
    for (let attempt = 0; attempt < LOCK_TRIES; attempt++) {
      const lease: Lease | undefined = await store.get(target.lease);
      const current = lease?.spec.holderIdentity ?? '';
      if (current === store.identity) return { kind: 'held' };
      if (current !== '' && !reclaimable(current, await this.holderState(current)))
        return { kind: 'busy', holder: current };
      // A cooldown is of a remediation of the Node itself, not of the pods on it.
      const block = target.forPods
        ? undefined
        : cooldownBlock(policy, this.historyOf(lease, now), target.description, now);
      if (block) return { kind: 'cooling', block };
      const claimed = await store.claim(lease, target.lease, labels);
      if (claimed.written)
        return { kind: 'taken', reclaimedFrom: current === '' ? null : describeHolder(current) };
      // Another writer came first (or the Lease went): look again.
    }
    throw new Error(
      `could not write the lock of ${target.description} (Lease ${this.config.lockNamespace}/${target.lease}) in ${LOCK_TRIES} tries; does namespace ${this.config.lockNamespace} exist?`,
    );
  }

  /** The holder as the apiserver has it now (read live: a cache may not have seen it yet). */
  private async holderState(identity: string): Promise<HolderState> {
    const holder = parseHolder(identity);
    if (!holder) return { kind: 'gone' };
    try {
      return holderStateOf(
        await this.client.request<WorkflowExecution>(
          resourcePath(WORKFLOW_EXECUTIONS, holder.namespace, holder.name),
        ),
      );
    } catch (error) {
      if (isNotFound(error)) return { kind: 'gone' };
      throw error;
    }
  }

  /** Runs executing now, in the run's namespace and in all, from the cache and this process's admissions. */
  private executing(workflow: WorkflowExecution, now: number): ExecutingCounts {
    const self = keyOf(workflow);
    const namespace = workflow.metadata.namespace ?? '';
    const counted = new Set<string>();
    const counts: ExecutingCounts = { namespace: 0, cluster: 0 };
    const count = (key: string, ns: string) => {
      if (key === self || counted.has(key)) return;
      counted.add(key);
      counts.cluster++;
      if (ns === namespace) counts.namespace++;
    };
    for (const w of this.workflows.list())
      if (!isFinishedView(w) && COUNTED_PHASES.has(w.status?.phase ?? ''))
        count(keyOf(w), w.metadata.namespace ?? '');
    for (const [key, at] of [...this.admitted]) {
      const cached = this.workflows.get(key.slice(key.indexOf('/') + 1), key.slice(0, key.indexOf('/')));
      const phase = cached?.status?.phase ?? '';
      // Gone, settled, or shown by the cache past validation (counted above if it still executes).
      if (!cached || now - at > ADMITTED_UNSEEN_MS || (phase !== 'validating' && phase !== 'planning')) {
        this.admitted.delete(key);
        continue;
      }
      count(key, cached.metadata.namespace ?? '');
    }
    return counts;
  }
}
