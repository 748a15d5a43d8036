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
  WorkflowExecution,
  WorkflowExecutionStatus,
} from '../api/generated/types.ts';
import { describeIssues } from '../api/issues.ts';
import type { WorkflowSnapshot } from '../../machines/workflow.ts';
import { decide, type DecideInput } from '../core/decide.ts';
import type { AdaptiveDecision } from '../core/adaptive.ts';
import { isFinishedView, type FinishedWorkflow } from '../core/finished-workflow.ts';
import { plannedDecisions, type Loaded } from '../core/load.ts';
import type { Consequences } from '../core/outcomes.ts';
import { project, type ResourceView } from '../core/project.ts';
import { canonicalJson } from '../core/spec-hash.ts';
import { PROGRESS_WRITE_DELAY_MS } from '../core/status-writes.ts';
import type { AuditStore } from '../audit/record.ts';
import { AuditWriter } from './audit-writer.ts';
import { ChildActions } from './child-actions.ts';
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
import { CompiledWorkflows } from './compiled-workflows.ts';
import { eventTargetOf, type EventRecorder } from './events.ts';
import type { ResourceInformer } from './informer.ts';
import { isConflict, isNotFound, type KubeClient } from './kube/client.ts';
import { WORKFLOW_EXECUTIONS, resourcePath } from './kube/resources.ts';
import { keyOf, OwnWrites } from './own-writes.ts';
import { WorkflowMetadata } from './workflow-metadata.ts';
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

const MAX_CONFLICT_RETRIES = 8;

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

export class Reconciler {
  private readonly o: Required<
    Omit<ReconcilerOptions, 'metrics' | 'audit' | 'alerts' | 'tracing' | 'admission'>
  > &
    Pick<ReconcilerOptions, 'metrics' | 'audit' | 'alerts' | 'tracing'>;
  /** Target locks and storm limits: validation's last gate, and the release when a run settles. */
  private readonly admission: Admission;
  private readonly observer: ClusterObserver;
  private readonly own = new OwnWrites();
  private readonly compiled = new CompiledWorkflows();
  private readonly audit: AuditWriter;
  private readonly metadata: WorkflowMetadata;
  private readonly childActions: ChildActions;
  private readonly progress: StepProgressBatches;
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
    this.audit = new AuditWriter(this.o.audit, this.o.metrics);
    this.metadata = new WorkflowMetadata(this.o.client, this.own, this.o.metrics);
    this.childActions = new ChildActions({
      client: this.o.client,
      own: this.own,
      clock: this.o.clock,
      metrics: this.o.metrics,
      traced: this.o.tracing !== undefined,
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
    return this.own.isOwnWrite(resourceVersion);
  }

  /** A watch showed this child: from now on the cache knows whether it exists. */
  childSeen(namespace: string, name: string): void {
    this.own.childSeen(keyOf(namespace, name));
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
    if (!this.own.trusts(key, cached?.metadata.resourceVersion)) return this.getLive(namespace, name);
    if (!cached || !isFinishedView(cached)) return cached;
    if (this.audit.done(cached.metadata.uid ?? '')) {
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
      this.own.forgetWorkflow(keyOf(namespace, name));
      return undefined;
    }
  }

  private async reconcileOnce(fetched: WorkflowExecution, log: Logger): Promise<WorkResult> {
    const now = this.o.clock();
    if (fetched.metadata.deletionTimestamp) return this.finalize(fetched, log, now);
    const prepared = await this.metadata.prepare(fetched, log);
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
      fromAdvanced: waiting !== undefined,
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
      await this.childActions.requestStops(workflow, effects.stops, children, log);
      const created = await this.childActions.create(workflow, plan, effects.children, children, log);
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
    await this.childActions.requestStops(committed, effects.stops, children, log);
    const created = await this.childActions.create(committed, plan, effects.children, children, log);
    if (projected.changed) await this.announce(committed, projected.consequences, log, now);
    if (projected.changed) this.o.tracing?.committed(committed, input.written, after, plan);
    if (decision.finished) {
      await this.audit.once(committed, decision.finished, log, now);
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
    this.own.wroteWorkflow(keyOf(namespace, name), written.metadata.resourceVersion);
    return written;
  }

  /**
   * The requeue, brought forward to when children created just now cross the pickup bound: the echo
   * of an operator's own create does not reconcile (controller.ts), so this reconcile is the one
   * that must look again; its `children` did not hold them yet.
   */
  private withPickupLook(requeueAfterMs: number | undefined, created: number): number | undefined {
    return created > 0 ? earliest(requeueAfterMs, this.o.pickupTimeoutMs + 1000) : requeueAfterMs;
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

  /** A workflow being deleted: its locks released, its last audit row, then the finalizer removed. */
  private async finalize(workflow: WorkflowExecution, log: Logger, now: number): Promise<WorkResult> {
    if (!WorkflowMetadata.holds(workflow)) return {};
    const phase = workflow.status?.phase ?? 'planning';
    await this.releaseLocks(workflow, 'deleted', log, now);
    await this.audit.final(workflow, log, now);
    await this.progress.flush(workflow.metadata.uid ?? '');
    await this.o.recorder.record(eventTargetOf(workflow), {
      type: 'Normal',
      reason: 'Deleted',
      note: `deleted in phase ${phase}; children are garbage collected`,
      action: 'Finalize',
    });
    await this.metadata.release(workflow);
    this.o.metrics?.deletedTotal.inc({ namespace: workflow.metadata.namespace ?? '', phase });
    this.audit.forget(workflow);
    // A deleted workflow's machine leaves the cache now, not when 256 later workflows pushed it out
    // (a compiled 150-step chain holds ~1.3 MB).
    this.compiled.forget(workflow.metadata.uid ?? '');
    this.unwritten.delete(keyOf(workflow.metadata.namespace ?? '', workflow.metadata.name ?? ''));
    log.info('finalized', { phase });
    return {};
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
