/**
 * One reconcile of one WorkflowExecution, top to bottom as DESIGN section 3 draws it:
 * fetch -> deletion and finalizer -> plan -> rehydrate -> observe -> advance -> persist -> act -> requeue.
 * Effects follow committed decisions only: children are derived from the snapshot just written, so
 * a crash anywhere is repaired by the next reconcile.
 */
import { randomUUID } from 'node:crypto';
import type {
  KubernetesExecution,
  WorkflowExecution,
  WorkflowExecutionStatus,
} from '../api/generated/types.ts';
import { conditionsFor, findCondition, type Condition } from '../api/conditions.ts';
import { describeIssues, type SpecIssue } from '../api/issues.ts';
import { validateSpec } from '../api/validation.ts';
import { desiredEffects } from '../core/effects.ts';
import type { SafetyCheckResult } from '../core/events.ts';
import { machineFor } from '../core/machine-cache.ts';
import { observe, type ObservedChild } from '../core/observe.ts';
import { planWorkflow, type ExecutionPlan } from '../core/plan.ts';
import { projectInvalidSpec, projectStatus } from '../core/status.ts';
import { advance, persist, rehydrate } from '../core/statechart.ts';
import { specHash } from '../core/spec-hash.ts';
import { transitions, type Transition } from '../core/transitions.ts';
import type { AuditStore } from '../audit/record.ts';
import { auditRecordOf } from '../audit/from-status.ts';
import { childManifest } from './children.ts';
import { checkEffectiveness, type AlertSource } from './checks/effectiveness.ts';
import { runSafetyChecks, type SafetyCheckConfig } from './checks/safety.ts';
import type { EventRecorder, EventTarget } from './events.ts';
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
import type { WorkResult } from './workqueue.ts';
import { recordTransitions } from './transition-effects.ts';

export const FINALIZER = 'workflowexecution.kubernaut.io/workflowexecution-cleanup';
const MAX_CONFLICT_RETRIES = 8;
const PLAN_CACHE_LIMIT = 1024;

export interface ReconcilerOptions {
  client: KubeClient;
  workflows: ResourceInformer<WorkflowExecution>;
  /** The workflow's children by its uid (an index the controller keeps from the informer). */
  children: { of(ownerUid: string): readonly KubernetesExecution[] };
  recorder: EventRecorder;
  log: Logger;
  metrics?: OperatorMetrics | undefined;
  audit?: AuditStore | undefined;
  safety: SafetyCheckConfig;
  alerts?: AlertSource | undefined;
  /** How often targets are re-checked while monitoring. */
  monitoringPollMs?: number;
  /** The clock: the only place time enters (as `now` of every event). */
  clock?: () => number;
}

type Planned =
  { ok: true; plan: ExecutionPlan; hash: string } | { ok: false; issues: SpecIssue[]; hash: string };

/** Stable JSON (sorted keys) to tell whether a status really changed before writing it. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
        )
      : v,
  );
}

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
  private readonly o: Required<Omit<ReconcilerOptions, 'metrics' | 'audit' | 'alerts'>> &
    Pick<ReconcilerOptions, 'metrics' | 'audit' | 'alerts'>;
  /** The resourceVersion this process last wrote per key: a cache older than that is not trusted. */
  private readonly lastWritten = new Map<string, string>();
  private readonly plans = new Map<string, Planned>();
  private readonly audited = new Set<string>();

  constructor(options: ReconcilerOptions) {
    this.o = { monitoringPollMs: 2000, clock: () => Date.now(), ...options };
  }

  async reconcile(key: string): Promise<WorkResult> {
    const [namespace = '', name = ''] = key.split('/');
    const log = this.o.log.child({ workflow: name, namespace, reconcileId: randomUUID().slice(0, 8) });
    const started = performance.now();
    try {
      let workflow = await this.fetch(namespace, name);
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
   * apiserver's, so no decision is ever taken on a copy older than the last one written.
   */
  private async fetch(namespace: string, name: string): Promise<WorkflowExecution | undefined> {
    const key = keyOf(namespace, name);
    const cached = this.o.workflows.get(name, namespace);
    const written = this.lastWritten.get(key);
    if (written === undefined) return cached;
    if (cached && notOlder(cached.metadata.resourceVersion, written)) {
      this.lastWritten.delete(key);
      return cached;
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

  private async reconcileOnce(workflow: WorkflowExecution, log: Logger): Promise<WorkResult> {
    const now = this.o.clock();
    const meta = workflow.metadata;
    const namespace = meta.namespace ?? '';
    const name = meta.name ?? '';

    if (meta.deletionTimestamp) return this.finalize(workflow, log, now);
    if (!meta.finalizers?.includes(FINALIZER)) {
      workflow = await this.patchMetadata(workflow, { finalizers: [...(meta.finalizers ?? []), FINALIZER] });
      this.o.metrics?.createdTotal.inc({ namespace });
    }
    if (!workflow.status?.statechart) await this.adoptByAlertRemediation(workflow, log);

    const planned = this.planOf(workflow);
    if (!planned.ok) return this.refuseInvalidSpec(workflow, planned.issues, log, now);
    const { plan, hash } = planned;

    const machine = machineFor(plan, hash);
    const restored = rehydrate(workflow.status?.statechart, machine, hash, now);
    if (!restored.ok) return this.stall(workflow, restored.reason, restored.message, log, now);
    const before = restored.snapshot;

    // Observe: the cluster as it is now, turned into events for the machine.
    const wanted = desiredEffects(before, plan, name);
    let retryChecksInMs: number | undefined;
    let safety: SafetyCheckResult[] | undefined;
    if (wanted.runSafetyChecks) {
      const results = await runSafetyChecks(this.o.client, this.o.safety, workflow.spec);
      if (results.some((r) => r.result === 'error')) {
        // Not a verdict on the workflow: try again soon, within the validation deadline.
        retryChecksInMs = 2000;
        log.warn('safety checks could not run', {
          errors: results.filter((r) => r.result === 'error').map((r) => r.message),
        });
      } else {
        safety = results;
        results.forEach((r) =>
          this.o.metrics?.safetyValidationTotal.inc({
            check_type: r.type,
            result: r.result === 'failed' ? 'fail' : 'pass',
          }),
        );
      }
    }
    const effectiveness = wanted.checkEffectiveness
      ? await checkEffectiveness(
          this.o.client,
          workflow.spec,
          new Set(
            Object.entries(before.context.steps)
              .filter(([, run]) => run.status === 'succeeded')
              .map(([step]) => Number(step)),
          ),
          this.o.alerts,
          before.context.times.executing ?? now,
        )
      : undefined;
    const children = this.childrenOf(workflow);
    const events = observe({
      now,
      children: children.map(observedChild),
      annotations: meta.annotations ?? {},
      ...(safety ? { safety } : {}),
      ...(effectiveness ? { effectiveness } : {}),
    });

    const after = advance(machine, before, events);

    // Persist: the new status, written only when it changed, with the resourceVersion as precondition.
    const projected = projectStatus(after, plan, {
      name,
      generation: meta.generation ?? 0,
      previousConditions: workflow.status?.conditions ?? [],
    });
    const status: WorkflowExecutionStatus = {
      ...projected,
      observedGeneration: meta.generation ?? 0,
      statechart: persist(after, hash),
    };
    let committed = workflow;
    const changed = canonical(status) !== canonical(workflow.status ?? {});
    if (changed) committed = await this.writeStatus(workflow, status);

    // Act, on what is now committed.
    const effects = desiredEffects(after, plan, name);
    await this.createChildren(committed, plan, effects.children, children, log);
    if (changed) {
      const happened = transitions(workflow.status?.statechart ? before : null, after);
      await this.recordOutcome(committed, happened, log, now);
    }
    if (status.phase === 'completed' || status.phase === 'failed')
      await this.auditOnce(committed, status.phase, log, now);

    return {
      requeueAfterMs: this.requeueAfter(
        effects.nextDeadline,
        now,
        effects.checkEffectiveness,
        retryChecksInMs,
      ),
    };
  }

  private requeueAfter(
    deadline: number | null,
    now: number,
    monitoring: boolean,
    retryChecksInMs?: number,
  ): number | undefined {
    const candidates = [
      deadline === null ? undefined : Math.max(0, deadline - now) + 1,
      monitoring ? this.o.monitoringPollMs : undefined,
      retryChecksInMs,
    ].filter((v): v is number => v !== undefined);
    return candidates.length === 0 ? undefined : Math.min(...candidates);
  }

  private planOf(workflow: WorkflowExecution): Planned {
    // The spec is immutable, so a (uid, generation) pair always plans the same way.
    const cacheKey = `${workflow.metadata.uid ?? ''}/${workflow.metadata.generation ?? 0}`;
    const cached = this.plans.get(cacheKey);
    if (cached) return cached;
    const validated = validateSpec(workflow.spec);
    let planned: Planned;
    if (!validated.ok) planned = { ok: false, issues: validated.issues, hash: '' };
    else {
      const hash = specHash(validated.value);
      const result = planWorkflow(validated.value);
      planned = result.ok
        ? { ok: true, plan: result.plan, hash }
        : { ok: false, issues: result.issues, hash };
    }
    if (this.plans.size >= PLAN_CACHE_LIMIT) {
      const oldest = this.plans.keys().next().value;
      if (oldest !== undefined) this.plans.delete(oldest);
    }
    this.plans.set(cacheKey, planned);
    return planned;
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
    if (written.metadata.resourceVersion)
      this.lastWritten.set(keyOf(namespace, name), written.metadata.resourceVersion);
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
    if (patched.metadata.resourceVersion)
      this.lastWritten.set(keyOf(namespace, name), patched.metadata.resourceVersion);
    return patched;
  }

  private async createChildren(
    workflow: WorkflowExecution,
    plan: ExecutionPlan,
    desired: readonly {
      name: string;
      kind: 'step' | 'dryRun' | 'rollback';
      stepNumber: number;
      attempt: number;
    }[],
    existing: readonly KubernetesExecution[],
    log: Logger,
  ): Promise<void> {
    const have = new Set(existing.map((c) => c.metadata.name));
    const namespace = workflow.metadata.namespace ?? '';
    for (const child of desired) {
      if (have.has(child.name)) continue;
      try {
        await this.o.client.request(resourcePath(KUBERNETES_EXECUTIONS, namespace), {
          body: childManifest(workflow, plan, child),
        });
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
      }
    }
  }

  private async recordOutcome(
    workflow: WorkflowExecution,
    happened: readonly Transition[],
    log: Logger,
    now: number,
  ): Promise<void> {
    await recordTransitions({
      workflow,
      target: eventTargetOf(workflow),
      happened,
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
    const uid = workflow.metadata.uid ?? '';
    if (!this.o.audit || this.audited.has(uid)) return;
    try {
      await this.o.audit.upsert(auditRecordOf(workflow, phase, now));
      this.audited.add(uid);
    } catch (error) {
      // Level-based: the next reconcile of this finished workflow tries again.
      log.warn('audit record not written', { error: (error as Error).message });
    }
  }

  private async finalize(workflow: WorkflowExecution, log: Logger, now: number): Promise<WorkResult> {
    const finalizers = workflow.metadata.finalizers ?? [];
    if (!finalizers.includes(FINALIZER)) return {};
    const phase = workflow.status?.phase ?? 'planning';
    // Best effort and never blocking: deletion must not wait on the audit database.
    if (this.o.audit && !this.audited.has(workflow.metadata.uid ?? '')) {
      const finished = phase === 'completed' || phase === 'failed';
      await this.o.audit
        .upsert(auditRecordOf(workflow, finished ? phase : 'deleted', now))
        .catch((error: unknown) => {
          log.warn('final audit record not written', { error: (error as Error).message });
        });
    }
    await this.o.recorder.record(eventTargetOf(workflow), {
      type: 'Normal',
      reason: 'Deleted',
      note: `deleted in phase ${phase}; children are garbage collected`,
      action: 'Finalize',
    });
    await this.patchMetadata(workflow, { finalizers: finalizers.filter((f) => f !== FINALIZER) });
    this.o.metrics?.deletedTotal.inc({ namespace: workflow.metadata.namespace ?? '', phase });
    this.audited.delete(workflow.metadata.uid ?? '');
    log.info('finalized', { phase });
    return {};
  }

  private async refuseInvalidSpec(
    workflow: WorkflowExecution,
    issues: SpecIssue[],
    log: Logger,
    now: number,
  ): Promise<WorkResult> {
    const status: WorkflowExecutionStatus = {
      ...projectInvalidSpec(issues, {
        generation: workflow.metadata.generation ?? 0,
        previousConditions: workflow.status?.conditions ?? [],
        now,
      }),
      observedGeneration: workflow.metadata.generation ?? 0,
    };
    if (canonical(status) === canonical(workflow.status ?? {})) return {};
    const committed = await this.writeStatus(workflow, status);
    log.warn('invalid spec', { phase: 'failed', issues: describeIssues(issues) });
    this.o.metrics?.validationFailuresTotal.inc({ reason: 'InvalidSpec' });
    await this.o.recorder.record(eventTargetOf(committed), {
      type: 'Warning',
      reason: 'InvalidSpec',
      note: describeIssues(issues),
      action: 'Plan',
    });
    return {};
  }

  /** A statechart that cannot be trusted: say so and leave the resource alone. */
  private async stall(
    workflow: WorkflowExecution,
    reason: string,
    message: string,
    log: Logger,
    now: number,
  ): Promise<WorkResult> {
    const previous = (workflow.status?.conditions ?? []) as Condition[];
    const stalled = findCondition(previous, 'Stalled');
    if (stalled?.status === 'True' && stalled.reason === reason && stalled.message === message) return {};
    const conditions = conditionsFor(
      previous,
      { state: 'stalled', reason, message },
      workflow.metadata.generation ?? 0,
      new Date(now).toISOString(),
    );
    await this.writeStatus(workflow, { ...(workflow.status ?? {}), conditions });
    log.error('stalled', { reason, detail: message, phase: workflow.status?.phase });
    return {};
  }

  private async adoptByAlertRemediation(workflow: WorkflowExecution, log: Logger): Promise<void> {
    const ref = workflow.spec.alertRemediationRef;
    if (!ref?.name) return;
    const namespace = ref.namespace ?? workflow.metadata.namespace ?? '';
    if (namespace !== workflow.metadata.namespace) return; // owners must share the namespace
    try {
      const owner = await this.o.client.request<{ metadata: { uid: string; name: string } }>(
        resourcePath(ALERT_REMEDIATIONS, namespace, ref.name),
      );
      const owners = workflow.metadata.ownerReferences ?? [];
      if (owners.some((o) => o.uid === owner.metadata.uid)) return;
      await this.patchMetadata(workflow, {
        ownerReferences: [
          ...owners,
          {
            apiVersion: apiVersionOf(ALERT_REMEDIATIONS),
            kind: ALERT_REMEDIATIONS.kind,
            name: owner.metadata.name,
            uid: owner.metadata.uid,
          },
        ],
      });
      log.info('owned by AlertRemediation', { alertRemediation: ref.name });
    } catch (error) {
      // No such AlertRemediation (or its CRD is not installed): nothing to own us.
      if (!(error instanceof ApiError && (error.status === 404 || error.status === 403))) throw error;
    }
  }
}

function eventTargetOf(workflow: WorkflowExecution): EventTarget {
  return {
    apiVersion: apiVersionOf(WORKFLOW_EXECUTIONS),
    kind: WORKFLOW_EXECUTIONS.kind,
    name: workflow.metadata.name ?? '',
    namespace: workflow.metadata.namespace ?? '',
    uid: workflow.metadata.uid ?? '',
  };
}

function observedChild(c: KubernetesExecution): ObservedChild {
  return {
    kind: c.spec.kind,
    stepNumber: c.spec.stepNumber,
    attempt: c.spec.attempt,
    ...(c.status?.phase ? { phase: c.status.phase } : {}),
    ...(c.status?.message ? { message: c.status.message } : {}),
    ...(c.status?.executionResult ? { result: c.status.executionResult } : {}),
    ...(c.status?.wouldSucceed !== undefined ? { wouldSucceed: c.status.wouldSucceed } : {}),
  };
}
