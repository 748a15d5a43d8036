/**
 * What a reconcile does to a workflow's children: creates the ones the machine wants that are not
 * there yet, and asks the attempts it waits on to stop. Both are level-based and idempotent: the
 * children's deterministic names make a repeated create an AlreadyExists, and a stop request stays
 * desired until answered.
 */
import type { KubernetesExecution, WorkflowExecution } from '../api/generated/types.ts';
import type { ExecutionPlan } from '../../machines/plan.ts';
import type { DesiredChild, DesiredStop } from '../core/effects.ts';
import { isoOf } from '../core/time.ts';
import {
  STOP_REQUESTED_ANNOTATION,
  STOP_REQUESTED_AT_ANNOTATION,
  TERMINAL_EXECUTION_PHASES,
} from '../api/stop-request.ts';
import { childManifest } from './children.ts';
import { isAlreadyExists, isNotFound, type KubeClient } from './kube/client.ts';
import { KUBERNETES_EXECUTIONS, resourcePath } from './kube/resources.ts';
import type { Logger } from './logger.ts';
import type { OperatorMetrics } from './metrics.ts';
import { keyOf, type OwnWrites } from './own-writes.ts';

export interface ChildActionsOptions {
  client: KubeClient;
  own: OwnWrites;
  clock: () => number;
  metrics?: OperatorMetrics | undefined;
  /** Children carry the trace context when traces are exported. */
  traced: boolean;
}

export class ChildActions {
  private readonly o: ChildActionsOptions;

  constructor(options: ChildActionsOptions) {
    this.o = options;
  }

  /** Creates the desired children not there yet; how many it created. */
  async create(
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
      if (this.o.own.createdRecently(key, now)) continue;
      try {
        const made = await this.o.client.request<KubernetesExecution>(
          resourcePath(KUBERNETES_EXECUTIONS, namespace),
          { body: childManifest(workflow, plan, child, { traced: this.o.traced }) },
        );
        this.o.own.created(key, now);
        created++;
        this.o.own.wrote(made.metadata.resourceVersion);
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
        this.o.own.created(key, now);
      }
    }
    return created;
  }

  /**
   * Asks the attempts the machine waits on to stop (src/api/stop-request.ts): annotates each child
   * that does not carry the request yet and still acts. A child not in the cache yet, or a write that
   * failed, is asked on a later reconcile.
   */
  async requestStops(
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
        this.o.own.wrote(patched.metadata.resourceVersion);
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
}
