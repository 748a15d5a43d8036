/**
 * The observe step of a reconcile: what the cluster shows now (children, annotations, and the
 * safety or effectiveness checks the snapshot waits for), as events for the machine, plus when to
 * look again if a check could not give a verdict.
 */
import type { KubernetesExecution, WorkflowExecution } from '../api/generated/types.ts';
import { safetyVerdict } from '../../machines/context.ts';
import type { SafetyCheckResult, WorkflowEvent } from '../../machines/events.ts';
import type { ExecutionPlan } from '../../machines/plan.ts';
import type { WorkflowSnapshot } from '../../machines/workflow.ts';
import { desiredEffects } from '../core/effects.ts';
import { observe, stillAwaited, type ObservedChild } from '../core/observe.ts';
import { checkEffectiveness, type AlertSource } from './checks/effectiveness.ts';
import { runSafetyChecks, type SafetyCheckConfig } from './checks/safety.ts';
import type { KubeClient } from './kube/client.ts';
import type { Logger } from './logger.ts';
import type { OperatorMetrics } from './metrics.ts';

/** Checks without a verdict (an errored safety check) are asked again this soon, within the deadline. */
export const CHECK_RETRY_MS = 2000;

export interface ClusterObserver {
  client: KubeClient;
  safety: SafetyCheckConfig;
  alerts?: AlertSource | undefined;
  metrics?: OperatorMetrics | undefined;
}

export interface Observed {
  events: WorkflowEvent[];
  /** Set when a check gave no verdict: look again after this long. */
  lookAgainInMs?: number;
}

export async function observeCluster(
  o: ClusterObserver,
  workflow: WorkflowExecution,
  snapshot: WorkflowSnapshot,
  plan: ExecutionPlan,
  children: readonly KubernetesExecution[],
  now: number,
  log: Logger,
): Promise<Observed> {
  const wanted = desiredEffects(snapshot, plan, workflow.metadata.name ?? '');
  const safety = wanted.runSafetyChecks ? await safetyChecks(o, workflow, now, log) : undefined;
  const effectiveness = wanted.checkEffectiveness
    ? await checkEffectiveness(
        o.client,
        workflow.spec,
        new Set(
          Object.entries(snapshot.context.steps)
            .filter(([, run]) => run.status === 'succeeded')
            .map(([step]) => Number(step)),
        ),
        o.alerts,
        snapshot.context.times.executing ?? now,
      )
    : undefined;
  const events = observe({
    now,
    children: children.map(observedChild).filter((c) => stillAwaited(snapshot.context, c)),
    annotations: workflow.metadata.annotations ?? {},
    ...(safety ? { safety } : {}),
    ...(effectiveness ? { effectiveness } : {}),
  });
  return safety && safetyVerdict(safety) === 'inconclusive'
    ? { events, lookAgainInMs: CHECK_RETRY_MS }
    : { events };
}

async function safetyChecks(
  o: ClusterObserver,
  workflow: WorkflowExecution,
  now: number,
  log: Logger,
): Promise<SafetyCheckResult[]> {
  const results = await runSafetyChecks(
    o.client,
    o.safety,
    workflow.spec,
    workflow.metadata.namespace ?? 'default',
    now,
  );
  if (safetyVerdict(results) === 'inconclusive') {
    log.warn('safety checks could not run', {
      errors: results.filter((r) => r.result === 'error').map((r) => r.message),
    });
  } else {
    for (const r of results)
      o.metrics?.safetyValidationTotal.inc({ check_type: r.type, result: safetyMetricResult(r) });
  }
  return results;
}

/** A failure relaxed by `required: false` is a warning, and not_applicable is its own result, never a pass. */
export function safetyMetricResult(r: SafetyCheckResult): 'pass' | 'fail' | 'warn' | 'not_applicable' {
  if (r.result === 'failed') return r.required ? 'fail' : 'warn';
  return r.result === 'not_applicable' ? 'not_applicable' : 'pass';
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
