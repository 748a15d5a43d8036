/**
 * The controller: informers on WorkflowExecutions and their KubernetesExecution children feed a
 * work queue whose workers run the reconciler. A child's change requeues its owner; the echo of the
 * operator's own write requeues nothing.
 */
import type { Tracing } from './tracing.ts';
import type { KubernetesExecution, WorkflowExecution } from '../api/generated/types.ts';
import {
  finishedChild,
  finishedView,
  isFinishedChild,
  isFinishedView,
  type FinishedChild,
  type FinishedWorkflow,
} from '../core/finished-workflow.ts';
import type { AuditStore } from '../audit/record.ts';
import type { AdmissionConfig } from './admission.ts';
import type { AlertSource } from './checks/effectiveness.ts';
import type { SafetyCheckConfig } from './checks/safety.ts';
import { LABELS } from './children.ts';
import { onlyClaimRenewed } from './executor-pickup.ts';
import { EventRecorder } from './events.ts';
import {
  createInformer,
  keepOnly,
  type CachedObject,
  type InformerOptions,
  type ResourceInformer,
} from './informer.ts';
import type { KubeClient } from './kube/client.ts';
import { KUBERNETES_EXECUTIONS, WORKFLOW_EXECUTIONS, type ResourceType } from './kube/resources.ts';
import type { Logger } from './logger.ts';
import type { OperatorMetrics } from './metrics.ts';
import { OwnerIndex } from './owner-index.ts';
import { Reconciler } from './reconciler.ts';
import { FINALIZER } from './workflow-metadata.ts';
import { shardOf, shardOfKey } from '../core/shards.ts';
import type { ShardOwnership } from './shards.ts';
import { WorkQueue } from './workqueue.ts';

export interface ControllerOptions {
  client: KubeClient;
  log: Logger;
  /** Namespaces to watch; empty or undefined watches all. */
  namespaces?: readonly string[] | undefined;
  workers?: number;
  metrics?: OperatorMetrics | undefined;
  audit?: AuditStore | undefined;
  safety?: SafetyCheckConfig;
  alerts?: AlertSource | undefined;
  /** The stability window of runs whose spec sets none. */
  stabilityWindowMs?: number | undefined;
  monitoringPollMs?: number;
  /** How long step progress may wait to share a status write (Reconciler). */
  progressWriteDelayMs?: number | undefined;
  pickupTimeoutMs?: number | undefined;
  clock?: () => number;
  /** With shards, only keys of the shards this replica holds are reconciled. */
  shards?: ShardOwnership | undefined;
  tracing?: Tracing | undefined;
  /** Target locks and storm limits (src/shell/admission.ts). */
  admission?: AdmissionConfig | undefined;
}

const keyOf = (o: CachedObject): string => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

const controllingWorkflow = (child: KubernetesExecution | FinishedChild) =>
  child.metadata.ownerReferences?.find((r) => r.controller && r.kind === WORKFLOW_EXECUTIONS.kind);

/** A cache over several per-namespace informers, read as one. */
function union<T extends CachedObject>(informers: ResourceInformer<T>[]): ResourceInformer<T> {
  return {
    get synced() {
      return informers.every((i) => i.synced);
    },
    get healthy() {
      return informers.every((i) => i.healthy);
    },
    get restarts() {
      return informers.reduce((n, i) => n + i.restarts, 0);
    },
    get: (name, namespace) => informers.map((i) => i.get(name, namespace)).find((o) => o !== undefined),
    list: (namespace) => informers.flatMap((i) => i.list(namespace)),
    start: async () => {
      await Promise.all(informers.map((i) => i.start()));
    },
    stop: async () => {
      await Promise.all(informers.map((i) => i.stop()));
    },
  };
}

export class WorkflowController {
  readonly queue: WorkQueue;
  /** Finished workflows are cached as their FinishedWorkflow view, their children as FinishedChild. */
  readonly workflows: ResourceInformer<WorkflowExecution | FinishedWorkflow>;
  readonly children: ResourceInformer<KubernetesExecution | FinishedChild>;
  readonly reconciler: Reconciler;
  readonly childIndex = new OwnerIndex<KubernetesExecution>();
  private readonly log: Logger;
  private readonly shards: ShardOwnership | undefined;

  constructor(options: ControllerOptions) {
    this.log = options.log;
    this.shards = options.shards;
    const metrics = options.metrics;
    this.queue = new WorkQueue({
      workers: options.workers ?? 4,
      // A key whose shard went elsewhere while it waited (or slept until a requeue) is dropped here.
      handler: (key) => (this.owns(key) ? this.reconciler.reconcile(key) : Promise.resolve({})),
      metrics: {
        onAdd: () => metrics?.workqueueAdds.inc(),
        onDepth: (d) => metrics?.workqueueDepth.set(d),
        onQueueLatency: (s) => metrics?.workqueueLatency.observe(s),
        onWorkDuration: (s) => metrics?.workqueueWorkDuration.observe(s),
        onRetry: () => metrics?.workqueueRetries.inc(),
      },
    });
    const namespaces =
      options.namespaces && options.namespaces.length > 0 ? [...options.namespaces] : [undefined];
    // One cache per watched namespace (or one for all), read as one; a watch error is logged as it restarts.
    const watched = <T extends CachedObject>(
      type: ResourceType,
      informer: Omit<InformerOptions<T>, 'namespace' | 'onError'>,
    ) =>
      union(
        namespaces.map((namespace) =>
          createInformer<T>(options.client, type, {
            ...informer,
            namespace,
            onError: (error, restartInMs) => {
              this.log.warn(`${type.kind} watch failed; restarting`, {
                error: (error as Error).message,
                restartInMs,
              });
            },
          }),
        ),
      );
    this.workflows = watched<WorkflowExecution | FinishedWorkflow>(WORKFLOW_EXECUTIONS, {
      view: (o) => (isFinishedView(o) ? undefined : finishedView(o, FINALIZER)),
      onChange: (o, kind) => {
        if (isFinishedView(o)) this.forgetChildrenOf(o);
        // The echo of the operator's own write: the reconcile that wrote it is done.
        if (kind === 'delete' || !this.reconciler.isOwnWrite(o.metadata.resourceVersion))
          this.enqueue(keyOf(o));
      },
    });
    this.children = watched<KubernetesExecution | FinishedChild>(KUBERNETES_EXECUTIONS, {
      labelSelector: LABELS.workflowUid,
      view: (o) => (this.ownerFinished(o) ? finishedChild(o) : undefined),
      onChange: (o, kind) => {
        const owner = controllingWorkflow(o);
        const before = owner ? this.childIndex.get(owner.uid, o) : undefined;
        // A child of a finished workflow is not indexed: nothing reconciles that workflow.
        if (isFinishedChild(o)) this.childIndex.forget(o);
        else this.childIndex.update(o, kind);
        this.reconciler.childSeen(o.metadata.namespace ?? '', o.metadata.name ?? '');
        // An executor renewing its claim changes nothing the workflow reads: no reconcile for it.
        if (kind === 'update' && before && !isFinishedChild(o) && onlyClaimRenewed(before, o)) return;
        // The echo of a child this operator just created: the reconcile that created it is done.
        if (kind !== 'delete' && this.reconciler.isOwnWrite(o.metadata.resourceVersion)) return;
        if (owner) this.enqueue(`${o.metadata.namespace ?? ''}/${owner.name}`);
      },
    });
    metrics?.observeWorkflows(() => this.workflows.list().filter((w) => this.owns(keyOf(w))));
    this.reconciler = new Reconciler({
      client: options.client,
      workflows: this.workflows,
      children: { of: (uid) => this.childIndex.of(uid) },
      recorder: new EventRecorder(options.client, (error) => {
        this.log.warn('event not recorded', { error: (error as Error).message });
      }),
      log: options.log,
      metrics,
      audit: options.audit,
      safety: options.safety ?? {
        executorUser: 'system:serviceaccount:kubernaut-system:kubernetes-executor',
      },
      alerts: options.alerts,
      ...(options.stabilityWindowMs !== undefined ? { stabilityWindowMs: options.stabilityWindowMs } : {}),
      ...(options.monitoringPollMs !== undefined ? { monitoringPollMs: options.monitoringPollMs } : {}),
      ...(options.progressWriteDelayMs !== undefined
        ? { progressWriteDelayMs: options.progressWriteDelayMs }
        : {}),
      ...(options.pickupTimeoutMs !== undefined ? { pickupTimeoutMs: options.pickupTimeoutMs } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
      tracing: options.tracing,
      admission: options.admission,
    });
  }

  /** Whether the child's controlling workflow is cached as finished. */
  private ownerFinished(child: KubernetesExecution | FinishedChild): boolean {
    const owner = controllingWorkflow(child);
    if (!owner) return false;
    const workflow = this.workflows.get(owner.name, child.metadata.namespace);
    return workflow !== undefined && isFinishedView(workflow) && workflow.metadata.uid === owner.uid;
  }

  /** A workflow just cached as finished: its children leave the index and keep only their names. */
  private forgetChildrenOf(workflow: FinishedWorkflow): void {
    for (const child of this.childIndex.drop(workflow.metadata.uid ?? ''))
      keepOnly(child, finishedChild(child));
  }

  /** Whether this replica reconciles the key: always without shards, else when it holds its shard. */
  owns(key: string): boolean {
    return !this.shards || this.shards.holds(shardOfKey(key, this.shards.count));
  }

  private enqueue(key: string): void {
    if (this.owns(key)) this.queue.add(key);
  }

  /** A shard just released: what waited for a write there is its next owner's to find. */
  forgetShard(shard: number): void {
    const count = this.shards?.count ?? 1;
    this.reconciler.forgetUnwritten((key) => shardOfKey(key, count) === shard);
  }

  /** A shard just acquired: every workflow of it is looked at, as after a restart. */
  enqueueShard(shard: number): void {
    const count = this.shards?.count ?? 1;
    for (const w of this.workflows.list()) {
      if (shardOf(w.metadata.namespace ?? '', w.metadata.name ?? '', count) === shard)
        this.queue.add(keyOf(w));
    }
  }

  get synced(): boolean {
    return this.workflows.synced && this.children.synced;
  }

  /** Watches of the caches opened again after an error so far. */
  get watchRestarts(): number {
    return this.workflows.restarts + this.children.restarts;
  }

  /** Synced, and no watch is waiting to restart after an error. */
  get healthy(): boolean {
    return this.workflows.healthy && this.children.healthy;
  }

  /** Start the caches and wait until they have listed once. */
  async startCaches(): Promise<void> {
    // Children first: a workflow reconciled before its children are cached would look for them live.
    await this.children.start();
    await this.workflows.start();
    while (!this.synced) await new Promise((resolve) => setTimeout(resolve, 50));
  }

  /** Start reconciling (only the leader does). */
  startWorkers(): void {
    this.queue.start();
    this.log.info('controller started', {
      workflows: this.workflows.list().length,
      children: this.children.list().length,
    });
  }

  async start(): Promise<void> {
    await this.startCaches();
    this.startWorkers();
  }

  async stop(): Promise<void> {
    await this.queue.shutdown();
    await this.reconciler.flush((key) => this.owns(key));
    await Promise.all([this.workflows.stop(), this.children.stop()]);
  }
}
