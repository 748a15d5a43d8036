/**
 * One reconcile of one WorkflowExecution, top to bottom as DESIGN section 3 draws it (deletion and
 * the finalizer first): it goes down into the core three times, each returning typed data: load
 * (compile and rehydrate, src/core/load.ts), decide (observe, advance, the effects wanted and whether
 * to write now, src/core/decide.ts; the checks it asks for run in between) and project (the status
 * and what to announce, src/core/project.ts); then it persists, acts and requeues. Effects follow committed decisions, with one exception: a step's start may wait for a
 * later status write (src/core/status-writes.ts) while its child is created at once, which its
 * deterministic name makes safe; a crash anywhere is repaired by the next reconcile, which finds
 * the same children.
 */
import { randomUUID } from 'node:crypto';
import type {
  KubernetesExecution,
  ObjectMeta,
  WorkflowExecution,
  WorkflowExecutionStatus,
} from '../api/generated/types.ts';
import { describeIssues } from '../api/issues.ts';
import type { ExecutionPlan } from '../../machines/plan.ts';
import type { WorkflowSnapshot } from '../../machines/workflow.ts';
import { decide, type DecideInput } from '../core/decide.ts';
import type { DesiredChild, DesiredStop } from '../core/effects.ts';
import type { AdaptiveDecision } from '../core/adaptive.ts';
import { isFinishedView, type FinishedWorkflow } from '../core/finished-workflow.ts';
import { plannedDecisions, type Loaded } from '../core/load.ts';
import type { Consequences } from '../core/outcomes.ts';
import { project, type ResourceView } from '../core/project.ts';
import { canonicalJson } from '../core/spec-hash.ts';
import { PROGRESS_WRITE_DELAY_MS } from '../core/status-writes.ts';
import type { AuditStore } from '../audit/record.ts';
import { auditIdOf, auditIdsOf, auditRecordOf } from '../audit/from-status.ts';
import { childManifest } from './children.ts';
import {
  DEFAULT_PICKUP_TIMEOUT_MS,
  EXECUTOR_MISSING_REASON,
  newPickupWarning,
  pickupState,
  withPickupCondition,
  type PickupState,
} from './executor-pickup.ts';
import type { AlertSource } from './checks/effectiveness.ts';
import { DEFAULT_STABILITY_WINDOW_MS } from '../core/monitoring-verdict.ts';
import type { SafetyCheckConfig } from './checks/safety.ts';
import { BoundedMap } from './bounded-map.ts';
import { CompiledWorkflows } from './compiled-workflows.ts';
import { eventTargetOf, type EventRecorder } from './events.ts';
import type { ResourceInformer } from './informer.ts';
import { ApiError, isAlreadyExists, isConflict, isNotFound, type KubeClient } from './kube/client.ts';
import {
  ALERT_REMEDIATIONS,
  KUBERNETES_EXECUTIONS,
  WORKFLOW_EXECUTIONS,
  apiVersionOf,
  resourcePath,
} from './kube/resources.ts';
import type { Logger } from './logger.ts';
import type { OperatorMetrics } from './metrics.ts';
import { runChecks, seenIn, type ClusterObserver } from './observe-cluster.ts';
import { Admission, DEFAULT_LOCK_NAMESPACE, type AdmissionConfig } from './admission.ts';
import { NO_EXECUTION_LIMITS } from '../core/target-locks.ts';
import { learnFromHistory } from './learning.ts';
import { resolveTemplateOnce } from './template-resolution.ts';
import { carryOut, StepProgressBatches } from './transition-effects.ts';
import type { Tracing } from './tracing.ts';
import type { WorkResult } from './workqueue.ts';
import { definitionOf } from '../api/resolved-spec.ts';
import {
  STOP_REQUESTED_ANNOTATION,
  STOP_REQUESTED_AT_ANNOTATION,
  TERMINAL_EXECUTION_PHASES,
} from '../api/stop-request.ts';
import { isoOf } from '../core/time.ts';

export const FINALIZER = 'workflowexecution.kubernaut.io/workflowexecution-cleanup';
const MAX_CONFLICT_RETRIES = 8;
/** How many own writes and creates are remembered until a watch shows them. */
const REMEMBERED_WRITES = 4096;
/**
 * How long a child this process created counts as there although the cache has not shown it yet;
 * after that (its watch events lost) it is created again, and AlreadyExists says it is there.
 */
const CREATED_UNSEEN_MS = 30_000;

export interface ReconcilerOptions {
  client: KubeClient;
  /** Finished workflows are cached as their FinishedWorkflow view (src/core/finished-workflow.ts). */
  workflows: ResourceInformer<WorkflowExecution | FinishedWorkflow>;
  /** The workflow's children by its uid (an index the controller keeps from the informer). */
  children: { of(ownerUid: string): readonly KubernetesExecution[] };
  recorder: EventRecorder;
  log: Logger;
  metrics?: OperatorMetrics | undefined;
  audit?: AuditStore | undefined;
  safety: SafetyCheckConfig;
  alerts?: AlertSource | undefined;
  /** The stability window of runs whose spec sets none. */
  stabilityWindowMs?: number;
  /** How often targets are re-checked while monitoring. */
  monitoringPollMs?: number;
  /** The clock: the only place time enters (as `now` of every event). */
  clock?: () => number;
  /** How long step progress may wait to share a status write (0: every change is written at once). */
  progressWriteDelayMs?: number;
  /** A child no executor claimed within this is reported on its workflow (src/shell/executor-pickup.ts). */
  pickupTimeoutMs?: number;
  /** Spans of committed changes, when traces are exported (src/shell/tracing.ts). */
  tracing?: Tracing | undefined;
  /** Where target locks live and the storm limits (default: kubernaut-system, no limits). */
  admission?: AdmissionConfig | undefined;
}

/** A workflow's snapshot ahead of its written status: step progress waiting for its write. */
interface Unwritten {
  /** The written status it extends, as the cache had it, and that status loaded. */
  base: WorkflowExecutionStatus | undefined;
  loaded: Extract<Loaded, { kind: 'running' }>;
  snapshot: WorkflowSnapshot;
  /** When its oldest unwritten progress happened. */
  since: number;
}

type OwnerReference = NonNullable<ObjectMeta['ownerReferences']>[number];

const keyOf = (namespace: string, name: string): string => `${namespace}/${name}`;

/**
 * Whether resourceVersion `a` is at least `b`. Kubernetes calls them opaque, but an etcd-backed
 * apiserver's are increasing integers; anything else is treated as unknown (not newer), which
 * costs a live read and nothing else.
 */
function notOlder(a: string | undefined, b: string): boolean {
  if (a === b) return true;
  if (a === undefined || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return false;
  return BigInt(a) >= BigInt(b);
}

export class Reconciler {
  private readonly o: Required<
    Omit<ReconcilerOptions, 'metrics' | 'audit' | 'alerts' | 'tracing' | 'admission'>
  > &
    Pick<ReconcilerOptions, 'metrics' | 'audit' | 'alerts' | 'tracing'>;
  /** Target locks and storm limits: validation's last gate, and the release when a run settles. */
  private readonly admission: Admission;
  private readonly observer: ClusterObserver;
  /** The resourceVersion this process last wrote per key: a cache older than that is not trusted. */
  private readonly lastWritten = new Map<string, string>();
  private readonly compiled = new CompiledWorkflows();
  /** Audit rows written, by id: one per run segment of a workflow. */
  private readonly audited = new Set<string>();
  private readonly progress: StepProgressBatches;
  /**
   * resourceVersions this process wrote that no watch has delivered back yet. etcd revisions are
   * unique across resources, so one map serves workflows and children.
   */
  private readonly unseen = new BoundedMap<string, true>(REMEMBERED_WRITES);
  /** Children this process created (namespace/name -> when) that the cache has not shown yet. */
  private readonly createdUnseen = new BoundedMap<string, number>(REMEMBERED_WRITES);
  /** Step progress not written yet, by key. Lost with the process, and then found again. */
  private readonly unwritten = new Map<string, Unwritten>();
  /** Set on stop: whatever progress waits is written now. */
  private writingAll = false;

  constructor(options: ReconcilerOptions) {
    this.o = {
      monitoringPollMs: 2000,
      stabilityWindowMs: DEFAULT_STABILITY_WINDOW_MS,
      clock: () => Date.now(),
      progressWriteDelayMs: PROGRESS_WRITE_DELAY_MS,
      pickupTimeoutMs: DEFAULT_PICKUP_TIMEOUT_MS,
      ...options,
    };
    this.progress = new StepProgressBatches(this.o.recorder, { clock: this.o.clock });
    this.admission = new Admission({
      client: this.o.client,
      config: options.admission ?? { lockNamespace: DEFAULT_LOCK_NAMESPACE, limits: NO_EXECUTION_LIMITS },
      workflows: this.o.workflows,
      recorder: this.o.recorder,
      metrics: this.o.metrics,
    });
    this.observer = {
      client: this.o.client,
      safety: this.o.safety,
      alerts: this.o.alerts,
      stabilityWindowMs: this.o.stabilityWindowMs,
      metrics: this.o.metrics,
      admission: this.admission,
    };
  }

  /**
   * Whether a watched object is the echo of this process's own write (seen once): the reconcile that
   * wrote it already acted on it, so reconciling it again would only find nothing to do.
   */
  isOwnWrite(resourceVersion: string | undefined): boolean {
    return resourceVersion !== undefined && this.unseen.delete(resourceVersion);
  }

  /** A watch showed this child: from now on the cache knows whether it exists. */
  childSeen(namespace: string, name: string): void {
    this.createdUnseen.delete(keyOf(namespace, name));
  }

  private wrote(key: string, written: WorkflowExecution): void {
    const version = written.metadata.resourceVersion;
    if (version === undefined) return;
    this.lastWritten.set(key, version);
    this.unseen.set(version, true);
  }

  /**
   * On stop, once no reconcile runs: writes the step progress still waiting for its status write,
   * then for its Event, so nothing is left unsaid.
   */
  async flush(owned: (key: string) => boolean = () => true): Promise<void> {
    this.writingAll = true;
    for (const key of [...this.unwritten.keys()])
      if (owned(key)) await this.reconcile(key).catch(() => undefined);
    this.unwritten.clear();
    await this.progress.flushAll();
  }

  /**
   * Forgets the progress waiting for a write of these keys: their shard went to another replica,
   * which finds it again in the children.
   */
  forgetUnwritten(gone: (key: string) => boolean): void {
    for (const key of [...this.unwritten.keys()]) if (gone(key)) this.unwritten.delete(key);
  }

  /** The progress waiting for a write of this workflow, if it still extends the status it has. */
  private unwrittenOf(key: string, workflow: WorkflowExecution): Unwritten | undefined {
    const waiting = this.unwritten.get(key);
    if (!waiting) return undefined;
    const base = waiting.base?.statechart;
    if (
      waiting.base === workflow.status ||
      canonicalJson(base) === canonicalJson(workflow.status?.statechart)
    )
      return waiting;
    // The status was written by someone else (or the spec was refused): what waited is found again.
    this.unwritten.delete(key);
    return undefined;
  }

  async reconcile(key: string): Promise<WorkResult> {
    const [namespace = '', name = ''] = key.split('/');
    const log = this.o.log.child({ workflow: name, namespace, reconcileId: randomUUID().slice(0, 8) });
    const started = performance.now();
    try {
      const fetched = await this.fetch(namespace, name);
      if (fetched === 'settled' || fetched === undefined) this.unwritten.delete(key);
      if (fetched === 'settled') return {};
      let workflow = fetched;
      for (let attempt = 0; attempt <= MAX_CONFLICT_RETRIES; attempt++) {
        if (!workflow) return {};
        try {
          const result = await this.reconcileOnce(workflow, log);
          this.o.metrics?.reconcileTotal.inc({
            result: result.requeueAfterMs === undefined ? 'success' : 'requeue_after',
          });
          return result;
        } catch (error) {
          if (!isConflict(error)) throw error;
          // Someone wrote in between: start over from what the apiserver has now.
          this.o.metrics?.conflictsTotal.inc();
          log.debug('conflict, rereading', { attempt });
          workflow = await this.getLive(namespace, name);
        }
      }
      throw new Error(`still conflicting after ${MAX_CONFLICT_RETRIES} rereads`);
    } catch (error) {
      this.o.metrics?.reconcileTotal.inc({ result: 'error' });
      this.o.metrics?.reconcileErrorsTotal.inc();
      log.error('reconcile failed', { error: (error as Error).message });
      throw error;
    } finally {
      this.o.metrics?.reconcileDuration.observe((performance.now() - started) / 1000);
    }
  }

  /**
   * The informer's copy, unless this process wrote a newer one the cache has not seen yet: then the
   * apiserver's, so no decision is ever taken on a copy older than the last one written. A workflow
   * cached as finished is `settled`: left alone, except once per process when an audit store is
   * configured (then read live and reconciled, which writes its audit record).
   */
  private async fetch(namespace: string, name: string): Promise<WorkflowExecution | 'settled' | undefined> {
    const key = keyOf(namespace, name);
    const cached = this.o.workflows.get(name, namespace);
    const written = this.lastWritten.get(key);
    if (written !== undefined) {
      if (!cached || !notOlder(cached.metadata.resourceVersion, written))
        return this.getLive(namespace, name);
      this.lastWritten.delete(key);
    }
    if (!cached || !isFinishedView(cached)) return cached;
    if (!this.o.audit || this.audited.has(cached.metadata.uid ?? '')) {
      this.compiled.forget(cached.metadata.uid ?? '');
      return 'settled';
    }
    return this.getLive(namespace, name);
  }

  private async getLive(namespace: string, name: string): Promise<WorkflowExecution | undefined> {
    try {
      return await this.o.client.request<WorkflowExecution>(
        resourcePath(WORKFLOW_EXECUTIONS, namespace, name),
      );
    } catch (error) {
      if (!isNotFound(error)) throw error;
      this.lastWritten.delete(keyOf(namespace, name));
      return undefined;
    }
  }

  private async reconcileOnce(fetched: WorkflowExecution, log: Logger): Promise<WorkResult> {
    const now = this.o.clock();
    if (fetched.metadata.deletionTimestamp) return this.finalize(fetched, log, now);
    const prepared = await this.prepare(fetched, log);
    // A template run: its definition resolved once, at planning, and recorded in the status.
    const resolution = await resolveTemplateOnce(this.o.client, prepared, this.o.metrics);
    if (resolution.kind === 'settled') return {};
    if (resolution.kind === 'refused') {
      const refused = project({ kind: 'invalid', issues: resolution.issues }, viewOf(prepared), [], now);
      if (refused.changed)
        await this.announce(await this.writeStatus(prepared, refused.status), refused.consequences, log, now);
      log.info('template refused', { issues: describeIssues(resolution.issues) });
      return {};
    }
    const workflow = resolution.workflow;
    const view = viewOf(workflow);

    // Load: compile the spec (cached), with what history taught at its first planning, and restore
    // its statechart, or refuse. Progress waiting for its write was loaded already.
    const key = keyOf(workflow.metadata.namespace ?? '', workflow.metadata.name ?? '');
    const waiting = this.unwrittenOf(key, workflow);
    const loaded =
      waiting?.loaded ?? this.compiled.load(workflow, now, await this.firstPlanning(workflow, now, log));
    if (loaded.kind !== 'running') {
      const refused = project(loaded, view, [], now);
      if (refused.changed)
        await this.announce(await this.writeStatus(workflow, refused.status), refused.consequences, log, now);
      return {};
    }

    // Decide: what the cluster shows, folded through the machine, with the checks it asks for run
    // on the way; and what follows: the children wanted, the requeue, whether to write now.
    const children = this.childrenOf(workflow);
    const input: DecideInput = {
      compiled: loaded.compiled,
      name: view.name,
      written: loaded.persisted ? loaded.snapshot : null,
      from: waiting?.snapshot ?? loaded.snapshot,
      seen: seenIn(workflow, children),
      now,
      waitingSince: waiting?.since ?? now,
      progressWriteDelayMs: this.writingAll ? 0 : this.o.progressWriteDelayMs,
      monitoringPollMs: this.o.monitoringPollMs,
    };
    let decision = decide(input);
    while (decision.kind === 'check') {
      const checks = await runChecks(this.observer, workflow, decision.request, now, log);
      decision = decide({ ...input, ...decision.resume, checks });
    }
    const { plan } = loaded.compiled;
    const { snapshot: after, effects } = decision;
    // Children no executor claimed in time: shown on the workflow, and looked at again when due.
    const pickup = decision.finished ? undefined : pickupState(children, now, this.o.pickupTimeoutMs);
    const requeueAfterMs = earliest(decision.requeueAfterMs, pickup?.nextCheckInMs);

    // Only step progress since the last write: act at once and write later, with the progress after it.
    if (!decision.write.now) {
      this.unwritten.set(key, { base: workflow.status, loaded, snapshot: after, since: input.waitingSince });
      await this.requestStops(workflow, effects.stops, children, log);
      const created = await this.createChildren(workflow, plan, effects.children, children, log);
      return { requeueAfterMs: this.withPickupLook(requeueAfterMs, created) };
    }

    // Project and persist, then act on what is now committed.
    const generation = workflow.metadata.generation ?? 0;
    const projected = project({ ...loaded, snapshot: after }, view, decision.happened, now, (status) =>
      withPickupCondition(status, pickup, generation, new Date(now).toISOString()),
    );
    const committed = projected.changed ? await this.writeStatus(workflow, projected.status) : workflow;
    this.unwritten.delete(key);
    await this.warnExecutorMissing(workflow, committed, pickup, log, now);
    await this.requestStops(committed, effects.stops, children, log);
    const created = await this.createChildren(committed, plan, effects.children, children, log);
    if (projected.changed) await this.announce(committed, projected.consequences, log, now);
    if (projected.changed) this.o.tracing?.committed(committed, input.written, after, plan);
    if (decision.finished) {
      await this.auditOnce(committed, decision.finished, log, now);
      // Settled and committed: its target locks are free for the runs waiting for them.
      await this.releaseLocks(committed, 'settled', log, now);
    }
    return { requeueAfterMs: this.withPickupLook(requeueAfterMs, created) };
  }

  /** At a workflow's first planning, the decisions history leads to (after it, its status has them). */
  private async firstPlanning(
    workflow: WorkflowExecution,
    now: number,
    log: Logger,
  ): Promise<AdaptiveDecision[]> {
    if (plannedDecisions(workflow)) return [];
    const declared = this.compiled.of(workflow);
    if (!declared.ok) return [];
    const decisions = await learnFromHistory(this.o.audit, workflow, declared.plan, now);
    log.info('learned from history', {
      decisions: decisions.map((d) => `${d.kind}:${d.step ?? '-'}`).join(','),
    });
    return decisions;
  }

  /**
   * The finalizer and, on a workflow not started yet, its AlertRemediation as owner: one metadata
   * patch for both, and none once they are there.
   */
  private async prepare(workflow: WorkflowExecution, log: Logger): Promise<WorkflowExecution> {
    const meta = workflow.metadata;
    const patch: { finalizers?: string[]; ownerReferences?: OwnerReference[] } = {};
    if (!meta.finalizers?.includes(FINALIZER)) patch.finalizers = [...(meta.finalizers ?? []), FINALIZER];
    const owners = workflow.status?.statechart ? undefined : await this.withAlertRemediationOwner(workflow);
    if (owners) patch.ownerReferences = owners;
    if (!patch.finalizers && !patch.ownerReferences) return workflow;
    const prepared = await this.patchMetadata(workflow, patch);
    if (patch.finalizers) this.o.metrics?.createdTotal.inc({ namespace: meta.namespace ?? '' });
    if (patch.ownerReferences)
      log.info('owned by AlertRemediation', { alertRemediation: workflow.spec.alertRemediationRef?.name });
    return prepared;
  }

  /** An Event and a log line when the ExecutorPickup condition was just set or changed. */
  private async warnExecutorMissing(
    before: WorkflowExecution,
    after: WorkflowExecution,
    pickup: PickupState | undefined,
    log: Logger,
    now: number,
  ): Promise<void> {
    const warning = newPickupWarning(before.status, after.status ?? {});
    if (warning === undefined) return;
    log.warn('children not picked up by an executor', { children: pickup?.overdue.map((c) => c.name) });
    await this.o.recorder.record(
      eventTargetOf(after),
      { type: 'Warning', reason: EXECUTOR_MISSING_REASON, note: warning, action: 'WaitForExecutor' },
      now,
    );
  }

  private childrenOf(workflow: WorkflowExecution): readonly KubernetesExecution[] {
    return this.o.children.of(workflow.metadata.uid ?? '');
  }

  private async writeStatus(
    workflow: WorkflowExecution,
    status: WorkflowExecutionStatus,
  ): Promise<WorkflowExecution> {
    const namespace = workflow.metadata.namespace ?? '';
    const name = workflow.metadata.name ?? '';
    const written = await this.o.client.request<WorkflowExecution>(
      resourcePath(WORKFLOW_EXECUTIONS, namespace, name, 'status'),
      {
        method: 'PUT',
        body: { ...workflow, status },
      },
    );
    this.wrote(keyOf(namespace, name), written);
    return written;
  }

  private async patchMetadata(
    workflow: WorkflowExecution,
    metadata: Record<string, unknown>,
  ): Promise<WorkflowExecution> {
    const namespace = workflow.metadata.namespace ?? '';
    const name = workflow.metadata.name ?? '';
    // resourceVersion in a merge patch is a precondition: a stale copy gets 409, not a lost update.
    const patched = await this.o.client.request<WorkflowExecution>(
      resourcePath(WORKFLOW_EXECUTIONS, namespace, name),
      {
        method: 'PATCH',
        patchType: 'merge',
        body: { metadata: { ...metadata, resourceVersion: workflow.metadata.resourceVersion } },
      },
    );
    this.wrote(keyOf(namespace, name), patched);
    return patched;
  }

  /**
   * The requeue, brought forward to when children created just now cross the pickup bound: the echo
   * of an operator's own create does not reconcile (controller.ts), so this reconcile is the one
   * that must look again; its `children` did not hold them yet.
   */
  private withPickupLook(requeueAfterMs: number | undefined, created: number): number | undefined {
    return created > 0 ? earliest(requeueAfterMs, this.o.pickupTimeoutMs + 1000) : requeueAfterMs;
  }

  /** Creates the desired children not there yet; how many it created. */
  private async createChildren(
    workflow: WorkflowExecution,
    plan: ExecutionPlan,
    desired: readonly DesiredChild[],
    existing: readonly KubernetesExecution[],
    log: Logger,
  ): Promise<number> {
    let created = 0;
    const have = new Set(existing.map((c) => c.metadata.name));
    const namespace = workflow.metadata.namespace ?? '';
    const now = this.o.clock();
    for (const child of desired) {
      if (have.has(child.name)) continue;
      // Created by an earlier reconcile whose create the cache has not shown yet: not again.
      const key = keyOf(namespace, child.name);
      const createdAt = this.createdUnseen.get(key);
      if (createdAt !== undefined && now - createdAt < CREATED_UNSEEN_MS) continue;
      try {
        const made = await this.o.client.request<KubernetesExecution>(
          resourcePath(KUBERNETES_EXECUTIONS, namespace),
          { body: childManifest(workflow, plan, child, { traced: this.o.tracing !== undefined }) },
        );
        this.createdUnseen.set(key, now);
        created++;
        if (made.metadata.resourceVersion) this.unseen.set(made.metadata.resourceVersion, true);
        log.info('created child', {
          child: child.name,
          kind: child.kind,
          step: child.stepNumber,
          attempt: child.attempt,
        });
        if (child.kind === 'step') {
          const action = plan.steps.find((s) => s.number === child.stepNumber)?.action ?? '';
          this.o.metrics?.stepsCreatedTotal.inc({ workflow_name: plan.workflowName, action });
        }
      } catch (error) {
        // Deterministic names make creation idempotent: one that exists was created before.
        if (!isAlreadyExists(error)) throw error;
        this.createdUnseen.set(key, now);
      }
    }
    return created;
  }

  /**
   * Asks the attempts the machine waits on to stop (src/api/stop-request.ts): annotates each child
   * that does not carry the request yet and still acts. Level-based: a child not in the cache yet, or
   * a write that failed, is asked on a later reconcile, since the request stays desired until answered.
   */
  private async requestStops(
    workflow: WorkflowExecution,
    stops: readonly DesiredStop[],
    existing: readonly KubernetesExecution[],
    log: Logger,
  ): Promise<void> {
    if (stops.length === 0) return;
    const byName = new Map(existing.map((c) => [c.metadata.name, c]));
    const namespace = workflow.metadata.namespace ?? '';
    const terminal: readonly string[] = TERMINAL_EXECUTION_PHASES;
    for (const stop of stops) {
      const child = byName.get(stop.name);
      if (!child || child.metadata.annotations?.[STOP_REQUESTED_ANNOTATION] !== undefined) continue;
      if (terminal.includes(child.status?.phase ?? '')) continue;
      try {
        const patched = await this.o.client.request<KubernetesExecution>(
          resourcePath(KUBERNETES_EXECUTIONS, namespace, stop.name),
          {
            method: 'PATCH',
            patchType: 'merge',
            body: {
              metadata: {
                annotations: {
                  [STOP_REQUESTED_ANNOTATION]: stop.reason,
                  [STOP_REQUESTED_AT_ANNOTATION]: isoOf(stop.requestedAt),
                },
              },
            },
          },
        );
        if (patched.metadata.resourceVersion) this.unseen.set(patched.metadata.resourceVersion, true);
        log.info('asked child to stop', {
          child: stop.name,
          step: stop.stepNumber,
          attempt: stop.attempt,
          reason: stop.reason,
        });
      } catch (error) {
        // Gone (its workflow is being deleted): nothing acts under that name any more.
        if (!isNotFound(error)) throw error;
      }
    }
  }

  private async announce(
    workflow: WorkflowExecution,
    consequences: Consequences,
    log: Logger,
    now: number,
  ): Promise<void> {
    await carryOut(consequences, {
      target: eventTargetOf(workflow),
      progress: this.progress,
      workflowName: definitionOf(workflow)?.name ?? workflow.spec.workflowTemplateRef?.name ?? '',
      recorder: this.o.recorder,
      metrics: this.o.metrics,
      log,
      now,
    });
  }

  private async auditOnce(
    workflow: WorkflowExecution,
    phase: string,
    log: Logger,
    now: number,
  ): Promise<void> {
    const id = auditIdOf(workflow);
    if (!this.o.audit || this.audited.has(id)) return;
    try {
      await this.o.audit.upsert(auditRecordOf(workflow, phase, now));
      this.audited.add(id);
      this.o.metrics?.auditWritesTotal.inc({ result: 'success' });
    } catch (error) {
      // Level-based: the next reconcile of this finished workflow tries again.
      this.o.metrics?.auditWritesTotal.inc({ result: 'failure' });
      log.warn('audit record not written', { error: (error as Error).message });
    }
  }

  /** Best effort: a lock left behind is reclaimed, its holder being settled or gone. */
  private async releaseLocks(
    workflow: WorkflowExecution,
    why: 'settled' | 'deleted',
    log: Logger,
    now: number,
  ): Promise<void> {
    await this.admission.release(workflow, why, now, log).catch((error: unknown) => {
      log.warn('target locks not released; the next run that wants them reclaims them', {
        error: (error as Error).message,
      });
    });
  }

  private async finalize(workflow: WorkflowExecution, log: Logger, now: number): Promise<WorkResult> {
    const finalizers = workflow.metadata.finalizers ?? [];
    if (!finalizers.includes(FINALIZER)) return {};
    const phase = workflow.status?.phase ?? 'planning';
    await this.releaseLocks(workflow, 'deleted', log, now);
    // Best effort and never blocking: deletion must not wait on the audit database.
    if (this.o.audit && !this.audited.has(auditIdOf(workflow))) {
      const finished = phase === 'completed' || phase === 'failed';
      await this.o.audit
        .upsert(auditRecordOf(workflow, finished ? phase : 'deleted', now))
        .then(() => this.o.metrics?.auditWritesTotal.inc({ result: 'success' }))
        .catch((error: unknown) => {
          this.o.metrics?.auditWritesTotal.inc({ result: 'failure' });
          log.warn('final audit record not written', { error: (error as Error).message });
        });
    }
    await this.progress.flush(workflow.metadata.uid ?? '');
    await this.o.recorder.record(eventTargetOf(workflow), {
      type: 'Normal',
      reason: 'Deleted',
      note: `deleted in phase ${phase}; children are garbage collected`,
      action: 'Finalize',
    });
    await this.patchMetadata(workflow, { finalizers: finalizers.filter((f) => f !== FINALIZER) });
    this.o.metrics?.deletedTotal.inc({ namespace: workflow.metadata.namespace ?? '', phase });
    // Its segments' ids, not a scan of every workflow audited: a deletion costs the same at 10,000.
    for (const id of auditIdsOf(workflow)) this.audited.delete(id);
    // A deleted workflow's machine leaves the cache now, not when 256 later workflows pushed it out
    // (a compiled 150-step chain holds ~1.3 MB).
    this.compiled.forget(workflow.metadata.uid ?? '');
    this.unwritten.delete(keyOf(workflow.metadata.namespace ?? '', workflow.metadata.name ?? ''));
    log.info('finalized', { phase });
    return {};
  }

  /** The owners with the AlertRemediation the spec names added, or undefined if nothing changes. */
  private async withAlertRemediationOwner(
    workflow: WorkflowExecution,
  ): Promise<OwnerReference[] | undefined> {
    const ref = workflow.spec.alertRemediationRef;
    if (!ref?.name) return undefined;
    const namespace = ref.namespace ?? workflow.metadata.namespace ?? '';
    if (namespace !== workflow.metadata.namespace) return undefined; // owners must share the namespace
    try {
      const owner = await this.o.client.request<{ metadata: { uid: string; name: string } }>(
        resourcePath(ALERT_REMEDIATIONS, namespace, ref.name),
      );
      const owners = workflow.metadata.ownerReferences ?? [];
      if (owners.some((o) => o.uid === owner.metadata.uid)) return undefined;
      return [
        ...owners,
        {
          apiVersion: apiVersionOf(ALERT_REMEDIATIONS),
          kind: ALERT_REMEDIATIONS.kind,
          name: owner.metadata.name,
          uid: owner.metadata.uid,
        },
      ];
    } catch (error) {
      // No such AlertRemediation (or its CRD is not installed): nothing to own us.
      if (!(error instanceof ApiError && (error.status === 404 || error.status === 403))) throw error;
      return undefined;
    }
  }
}

/** What a status is projected over: the resource as read. */
function viewOf(workflow: WorkflowExecution): ResourceView {
  return {
    name: workflow.metadata.name ?? '',
    generation: workflow.metadata.generation ?? 0,
    status: workflow.status,
  };
}

/** The earlier of two optional delays. */
const earliest = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined ? b : b === undefined ? a : Math.min(a, b);
