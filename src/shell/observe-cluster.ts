/**
 * The observe step of a reconcile, the shell's half: what the cluster shows now (children and
 * annotations), and the safety checks, admission (target locks, storm limits) or effectiveness check
 * a decision asks for. The core turns them into
 * the machine's events (src/core/decide.ts).
 */
import type { KubernetesExecution, WorkflowExecution } from '../api/generated/types.ts';
import { safetyVerdict } from '../../machines/context.ts';
import type {
  AdmissionVerdict,
  AlertmanagerState,
  EffectivenessObservation,
  SafetyCheckResult,
} from '../../machines/events.ts';
import type { Admission } from './admission.ts';
import type { CheckRequest, CheckResults, Seen } from '../core/decide.ts';
import type { ObservedChild } from '../core/observe.ts';
import {
  alertmanagerState,
  checkEffectiveness,
  type AlertSource,
  type EffectivenessReport,
} from './checks/effectiveness.ts';
import { DEFAULT_STABILITY_WINDOW_MS } from '../core/monitoring-verdict.ts';
import { runSafetyChecks, type SafetyCheckConfig } from './checks/safety.ts';
import type { KubeClient } from './kube/client.ts';
import type { Logger } from './logger.ts';
import type { OperatorMetrics } from './metrics.ts';
import { compiledSpecOf } from '../api/resolved-spec.ts';

export interface ClusterObserver {
  client: KubeClient;
  safety: SafetyCheckConfig;
  alerts?: AlertSource | undefined;
  /** The stability window of runs whose spec sets none. */
  stabilityWindowMs?: number | undefined;
  metrics?: OperatorMetrics | undefined;
  /** Target locks and storm limits (src/shell/admission.ts). */
  admission: Admission;
}

/** What the cluster shows of a workflow: its children and its annotations. */
export function seenIn(workflow: WorkflowExecution, children: readonly KubernetesExecution[]): Seen {
  return { children: children.map(observedChild), annotations: workflow.metadata.annotations ?? {} };
}

/** Runs the checks a decision asked for (src/core/decide.ts). */
export async function runChecks(
  o: ClusterObserver,
  workflow: WorkflowExecution,
  request: CheckRequest,
  now: number,
  log: Logger,
): Promise<CheckResults> {
  const safety = request.safety ? await safetyChecks(o, workflow, now, log) : undefined;
  // Shown as a condition before execution; never a reason to hold the run back.
  const alertmanager: AlertmanagerState | undefined =
    request.safety && (o.alerts !== undefined || workflow.spec.alertRef !== undefined)
      ? await alertmanagerState(o.alerts)
      : undefined;
  const admission = request.admission ? await admit(o, workflow, request.requested, now, log) : undefined;
  const wanted = request.effectiveness;
  const report = wanted
    ? await checkEffectiveness(o.client, compiledSpecOf(workflow), o.alerts, {
        ...wanted,
        stabilityWindowMs: wanted.stabilityWindowMs ?? o.stabilityWindowMs ?? DEFAULT_STABILITY_WINDOW_MS,
      })
    : undefined;
  if (report && report.newAlerts.length > 0)
    log.info("new alerts concern the run's targets", { alerts: report.newAlerts });
  const effectiveness = report && observationOf(report);
  return {
    ...(safety ? { safety } : {}),
    ...(alertmanager ? { alertmanager } : {}),
    ...(admission ? { admission } : {}),
    ...(effectiveness ? { effectiveness } : {}),
  };
}

/** Admission's verdict; none when the apiserver could not be asked (asked again soon). */
async function admit(
  o: ClusterObserver,
  workflow: WorkflowExecution,
  requested: boolean,
  now: number,
  log: Logger,
): Promise<AdmissionVerdict | undefined> {
  try {
    return await o.admission.admit(workflow, now, log, requested);
  } catch (error) {
    log.warn('admission could not be decided', { error: (error as Error).message });
    return undefined;
  }
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
    compiledSpecOf(workflow),
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

/** The machine's observation: the report without what only the log reads. */
function observationOf(report: EffectivenessReport): EffectivenessObservation {
  const { verdicts: _verdicts, newAlerts: _newAlerts, ...observation } = report;
  return observation;
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
