/**
 * Effectiveness monitoring: after the steps ran, is each target in the state the step asked for, did
 * the alert the run remediates resolve, and did a new alert fire on something the run touched?
 * - Deployment: the controller observed the latest generation and every desired replica is
 *   available (and, for scale-deployment, the replica count is the one asked for);
 * - Pod by name (restart-pod, delete-pod): judged by what replaced it, its controller's pods (a
 *   ReplicaSet's Deployment rolled out; a StatefulSet's or other controller's pods Ready), as the
 *   executor recorded the controller; a pod nobody owned is gone for good and is not verifiable;
 * - Pod by selector: the pods that match are Ready;
 * - Node: cordon/drain left it unschedulable;
 * - ConfigMap: it holds the updated keys with the new values;
 * - Secret and custom actions: not verifiable here (the operator reads no Secrets; a custom action
 *   names no object).
 * Alerts come from Alertmanager's v2 API (`--alertmanager-url`); which of them concern the run is
 * decided in src/core/alert-match.ts.
 */
import type { StepExecutionResult, WorkflowStep } from '../../api/generated/types.ts';
import type { ResolvedSpec } from '../../api/resolved-spec.ts';
import type {
  AlertmanagerState,
  AlertResolution,
  EffectivenessObservation,
  ResourceHealth,
} from '../../../machines/events.ts';
import {
  newAlertsOn,
  referencedAlertFiring,
  selectorLabels,
  type ActiveAlert,
  type TouchedObject,
} from '../../core/alert-match.ts';
import { describeTarget, targetOf } from '../../core/targets.ts';
import { isNotFound, type KubeClient } from '../kube/client.ts';
import { CONFIG_MAPS, DEPLOYMENTS, NODES, PODS, resourcePath, type ResourceType } from '../kube/resources.ts';
import type { Deployment, Pod } from './cluster-reads.ts';

export interface TargetVerdict {
  step: number;
  target: string;
  healthy: boolean;
  detail: string;
}

const REPLICA_SETS: ResourceType = {
  group: 'apps',
  version: 'v1',
  plural: 'replicasets',
  kind: 'ReplicaSet',
  namespaced: true,
};

interface Owned {
  metadata: { ownerReferences?: { kind: string; name: string; controller?: boolean }[] };
}

type Verdict = [healthy: boolean, detail: string];

/** What one step's target shows: its verdict (none when it cannot be verified) and how alerts name it. */
interface Judged {
  verdict: Verdict | undefined;
  touched: TouchedObject;
}

/** Reads an object, undefined when it does not exist. */
async function readIfThere<T>(client: KubeClient, path: string): Promise<T | undefined> {
  try {
    return await client.request<T>(path);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

async function deploymentVerdict(
  client: KubeClient,
  namespace: string,
  name: string,
  wanted: number | undefined,
): Promise<Judged> {
  const touched = { namespace, names: { deployment: [name] }, labels: {} };
  const d = await readIfThere<Deployment>(client, resourcePath(DEPLOYMENTS, namespace, name));
  if (!d) return { verdict: [false, 'does not exist'], touched };
  const labels = d.spec?.template?.metadata?.labels ?? {};
  const desired = d.spec?.replicas ?? 1;
  const available = d.status?.availableReplicas ?? 0;
  const observed = (d.status?.observedGeneration ?? 0) >= (d.metadata.generation ?? 0);
  const withLabels = { ...touched, labels };
  if (wanted !== undefined && desired !== wanted)
    return {
      verdict: [false, `spec.replicas is ${desired}, the step asked for ${wanted}`],
      touched: withLabels,
    };
  if (!observed)
    return {
      verdict: [false, 'the deployment controller has not observed the latest generation'],
      touched: withLabels,
    };
  return {
    verdict: [available >= desired, `${available}/${desired} replicas available`],
    touched: withLabels,
  };
}

const isReady = (p: Pod): boolean =>
  p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

function podsVerdict(pods: readonly Pod[], what: string): Verdict {
  const live = pods.filter((p) => !p.metadata.deletionTimestamp);
  if (live.length === 0) return [false, `no pod of ${what} is running`];
  const ready = live.filter(isReady).length;
  return [ready === live.length, `${ready}/${live.length} pods of ${what} ready`];
}

const controllerOf = (o: Owned) => o.metadata.ownerReferences?.find((r) => r.controller === true);

/** A restarted or deleted pod judged by its controller: a ReplicaSet's Deployment, or the controller's pods. */
async function ownerVerdict(
  client: KubeClient,
  namespace: string,
  owner: { kind: string; name: string },
): Promise<Judged> {
  if (owner.kind === 'ReplicaSet') {
    const rs = await readIfThere<Owned>(client, resourcePath(REPLICA_SETS, namespace, owner.name));
    const deployment = rs ? controllerOf(rs) : undefined;
    if (deployment?.kind === 'Deployment')
      return deploymentVerdict(client, namespace, deployment.name, undefined);
  }
  const pods = (await client.request<{ items: Pod[] }>(resourcePath(PODS, namespace))).items.filter((p) => {
    const c = controllerOf(p);
    return c?.kind === owner.kind && c.name === owner.name;
  });
  return {
    verdict: podsVerdict(pods, `${owner.kind} ${owner.name}`),
    touched: { namespace, names: { [owner.kind.toLowerCase()]: [owner.name] }, labels: {} },
  };
}

async function namedPodVerdict(
  client: KubeClient,
  namespace: string,
  podName: string,
  result: StepExecutionResult | undefined,
): Promise<Judged> {
  const owners = result?.restartResult?.owners ?? [];
  const podTouched: TouchedObject = { namespace, names: { pod: [podName] }, labels: {} };
  const first = owners[0];
  if (first !== undefined) {
    const judged = await ownerVerdict(client, namespace, first);
    return {
      verdict: judged.verdict,
      touched: {
        ...judged.touched,
        names: { ...judged.touched.names, pod: [podName] },
      },
    };
  }
  // No controller recorded: a pod that is there again under its name (not being deleted) is judged
  // itself; a bare pod that is gone has nothing to judge.
  const pod = await readIfThere<Pod>(client, resourcePath(PODS, namespace, podName));
  if (!pod || pod.metadata.deletionTimestamp) return { verdict: undefined, touched: podTouched };
  return { verdict: podsVerdict([pod], `pod ${podName}`), touched: podTouched };
}

async function judge(
  client: KubeClient,
  step: WorkflowStep,
  result: StepExecutionResult | undefined,
): Promise<Judged | undefined> {
  const target = targetOf(step);
  if (!target) return undefined;
  const p = step.parameters;
  const ns = target.namespace;
  switch (target.kind) {
    // The operator reads no Secrets (docs/explanation/security.md): the executor, which may, reports
    // whether its update took; the operator has nothing of its own to check.
    case 'Secret':
      return { verdict: undefined, touched: { namespace: ns, names: { secret: [target.name] }, labels: {} } };
    case 'Deployment':
      return deploymentVerdict(client, ns, target.name, p.scaleDeployment?.replicas);
    case 'Pod': {
      if (target.name !== '') return namedPodVerdict(client, ns, target.name, result);
      const pods = await client.request<{ items: Pod[] }>(resourcePath(PODS, ns), {
        query: { labelSelector: target.selector },
      });
      return {
        verdict: podsVerdict(pods.items, `selector ${target.selector ?? ''}`),
        touched: { namespace: ns, names: {}, labels: selectorLabels(target.selector) },
      };
    }
    case 'Node': {
      const touched = { namespace: '', names: { node: [target.name], instance: [target.name] }, labels: {} };
      const node = await readIfThere<{ spec?: { unschedulable?: boolean } }>(
        client,
        resourcePath(NODES, '', target.name),
      );
      if (!node) return { verdict: [false, 'does not exist'], touched };
      const cordoned = node.spec?.unschedulable === true;
      return { verdict: [cordoned, cordoned ? 'cordoned' : 'still schedulable'], touched };
    }
    case 'ConfigMap': {
      const touched = { namespace: ns, names: { configmap: [target.name] }, labels: {} };
      const object = await readIfThere<{ data?: Record<string, string> }>(
        client,
        resourcePath(CONFIG_MAPS, ns, target.name),
      );
      if (!object) return { verdict: [false, 'does not exist'], touched };
      const updates = p.updateConfigMap?.dataUpdates ?? {};
      const stale = Object.entries(updates)
        .filter(([k, v]) => object.data?.[k] !== v)
        .map(([k]) => k);
      return {
        verdict: [
          stale.length === 0,
          stale.length === 0 ? 'holds the updated keys' : `keys not updated: ${stale.join(', ')}`,
        ],
        touched,
      };
    }
  }
}

export interface AlertSource {
  /**
   * The active alerts (silenced and inhibited ones included, marked `suppressed`); null when
   * Alertmanager did not answer.
   */
  activeAlerts(): Promise<(ActiveAlert & { suppressed: boolean })[] | null>;
}

interface V2Alert {
  fingerprint?: string;
  startsAt?: string;
  labels?: Record<string, string>;
  status?: { state?: string };
}

/** Alertmanager's v2 API: GET /api/v2/alerts?active=true (resolved alerts are not active). */
export function alertmanagerSource(baseUrl: string): AlertSource {
  return {
    async activeAlerts() {
      try {
        const response = await fetch(`${baseUrl.replace(/\/$/, '')}/api/v2/alerts?active=true`, {
          signal: AbortSignal.timeout(5000),
        });
        if (!response.ok) return null;
        const alerts = (await response.json()) as V2Alert[];
        return alerts.map((a) => ({
          fingerprint: a.fingerprint ?? '',
          startsAt: a.startsAt ?? '',
          labels: a.labels ?? {},
          suppressed: a.status?.state === 'suppressed',
        }));
      } catch {
        return null;
      }
    },
  };
}

/** Whether Alertmanager answers: validation asks it when configured or the run names an alert. */
export async function alertmanagerState(alerts: AlertSource | undefined): Promise<AlertmanagerState> {
  if (!alerts) return 'notConfigured';
  return (await alerts.activeAlerts()) === null ? 'unreachable' : 'answered';
}

export interface EffectivenessReport extends EffectivenessObservation {
  verdicts: TargetVerdict[];
  /** The new alerts that concern a touched target, by alertname (for the log). */
  newAlerts: string[];
}

export interface EffectivenessInput {
  succeededSteps: ReadonlySet<number>;
  /** What each succeeded step's executor reported (a restarted pod's controller). */
  results: ReadonlyMap<number, StepExecutionResult>;
  /** Since when (epoch ms) new alerts count: the execution's start. */
  since: number;
  stabilityWindowMs: number;
}

export async function checkEffectiveness(
  client: KubeClient,
  spec: ResolvedSpec,
  alerts: AlertSource | undefined,
  input: EffectivenessInput,
): Promise<EffectivenessReport> {
  const verdicts: TargetVerdict[] = [];
  const touched: TouchedObject[] = [];
  for (const step of spec.workflowDefinition.steps) {
    if (!input.succeededSteps.has(step.stepNumber)) continue;
    const judged = await judge(client, step, input.results.get(step.stepNumber));
    if (!judged) continue;
    touched.push(judged.touched);
    const target = targetOf(step);
    if (judged.verdict && target)
      verdicts.push({
        step: step.stepNumber,
        target: describeTarget(target),
        healthy: judged.verdict[0],
        detail: judged.verdict[1],
      });
  }
  const healthyCount = verdicts.filter((v) => v.healthy).length;
  const resourceHealth: ResourceHealth =
    verdicts.length === 0
      ? 'unknown'
      : healthyCount === verdicts.length
        ? 'healthy'
        : healthyCount === 0
          ? 'unhealthy'
          : 'degraded';
  const active = alerts ? await alerts.activeAlerts() : null;
  const alertmanager: AlertmanagerState = !alerts
    ? 'notConfigured'
    : active === null
      ? 'unreachable'
      : 'answered';
  const ref = spec.alertRef;
  const alert: AlertResolution | null =
    ref === undefined
      ? null
      : active === null
        ? 'unknown'
        : referencedAlertFiring(ref, active)
          ? 'firing'
          : 'resolved';
  const fresh =
    active === null
      ? null
      : newAlertsOn(
          active.filter((a) => !a.suppressed),
          input.since,
          touched,
          ref,
        );
  return {
    effective: healthyCount === verdicts.length && (fresh === null || fresh.length === 0),
    score: verdicts.length === 0 ? null : Math.round((healthyCount / verdicts.length) * 1000) / 1000,
    resourceHealth,
    newAlertsTriggered: fresh === null ? null : fresh.length > 0,
    alert,
    alertmanager,
    stabilityWindowMs: input.stabilityWindowMs,
    verdicts,
    newAlerts: (fresh ?? []).map((a) => a.labels['alertname'] ?? a.fingerprint),
  };
}
