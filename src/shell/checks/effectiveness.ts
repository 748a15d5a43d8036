/**
 * Effectiveness monitoring: after the steps ran, is each target in the state the step asked for?
 * - Deployment: the controller observed the latest generation and every desired replica is
 *   available (and, for scale-deployment, the replica count is the one asked for);
 * - Pod (restart/delete): the pods that match are Ready;
 * - Node: cordon/drain left it unschedulable;
 * - ConfigMap: it holds the updated keys with the new values;
 * - Secret: not checked here (the operator reads no Secrets); the executor reports its update.
 * New alerts come from an optional Alertmanager; without one the result says alerts were not checked.
 */
import type { WorkflowStep } from '../../api/generated/types.ts';
import type { ResolvedSpec } from '../../api/resolved-spec.ts';
import type { EffectivenessObservation, ResourceHealth } from '../../../machines/events.ts';
import { describeTarget, targetOf } from '../../core/targets.ts';
import { isNotFound, type KubeClient } from '../kube/client.ts';
import { CONFIG_MAPS, DEPLOYMENTS, NODES, PODS, resourcePath } from '../kube/resources.ts';

export interface TargetVerdict {
  step: number;
  target: string;
  healthy: boolean;
  detail: string;
}

interface Deployment {
  metadata: { generation?: number };
  spec?: { replicas?: number };
  status?: { observedGeneration?: number; availableReplicas?: number; updatedReplicas?: number };
}
interface Pod {
  metadata: { name: string; deletionTimestamp?: string };
  status?: { conditions?: { type: string; status: string }[] };
}

async function deploymentVerdict(
  client: KubeClient,
  step: WorkflowStep,
  namespace: string,
  name: string,
): Promise<[boolean, string]> {
  const d = await client.request<Deployment>(resourcePath(DEPLOYMENTS, namespace, name));
  const desired = d.spec?.replicas ?? 1;
  const available = d.status?.availableReplicas ?? 0;
  const observed = (d.status?.observedGeneration ?? 0) >= (d.metadata.generation ?? 0);
  const wanted = step.parameters.scaleDeployment?.replicas;
  if (wanted !== undefined && desired !== wanted)
    return [false, `spec.replicas is ${desired}, the step asked for ${wanted}`];
  if (!observed) return [false, 'the deployment controller has not observed the latest generation'];
  return [available >= desired, `${available}/${desired} replicas available`];
}

async function podsVerdict(
  client: KubeClient,
  namespace: string,
  podName: string,
  selector?: string,
): Promise<[boolean, string]> {
  const pods = podName
    ? await client.request<Pod>(resourcePath(PODS, namespace, podName)).then(
        (p) => [p],
        (error: unknown) => {
          if (isNotFound(error)) return [];
          throw error;
        },
      )
    : (
        await client.request<{ items: Pod[] }>(resourcePath(PODS, namespace), {
          query: { labelSelector: selector },
        })
      ).items;
  const live = pods.filter((p) => !p.metadata.deletionTimestamp);
  const ready = live.filter((p) =>
    p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
  );
  if (live.length === 0) return [false, 'no pod is running'];
  return [ready.length === live.length, `${ready.length}/${live.length} pods ready`];
}

async function verdictOf(client: KubeClient, step: WorkflowStep): Promise<TargetVerdict | undefined> {
  const target = targetOf(step);
  // The operator reads no Secrets (docs/explanation/security.md): the executor, which may, reports
  // whether its update took; the operator has nothing of its own to check.
  if (!target || target.kind === 'Secret') return undefined;
  const p = step.parameters;
  const name = describeTarget(target);
  try {
    let verdict: [boolean, string];
    if (target.kind === 'Deployment')
      verdict = await deploymentVerdict(client, step, target.namespace, target.name);
    else if (target.kind === 'Pod')
      verdict = await podsVerdict(client, target.namespace, p.restartPod?.podName ?? '', target.selector);
    else if (target.kind === 'Node') {
      const node = await client.request<{ spec?: { unschedulable?: boolean } }>(
        resourcePath(NODES, '', target.name),
      );
      verdict = [
        node.spec?.unschedulable === true,
        node.spec?.unschedulable ? 'cordoned' : 'still schedulable',
      ];
    } else {
      // ConfigMap: compare the keys the step set.
      const object = await client.request<{ data?: Record<string, string> }>(
        resourcePath(CONFIG_MAPS, target.namespace, target.name),
      );
      const updates = p.updateConfigMap?.dataUpdates ?? {};
      const stale = Object.entries(updates)
        .filter(([k, v]) => object.data?.[k] !== v)
        .map(([k]) => k);
      verdict = [
        stale.length === 0,
        stale.length === 0 ? 'holds the updated keys' : `keys not updated: ${stale.join(', ')}`,
      ];
    }
    return { step: step.stepNumber, target: name, healthy: verdict[0], detail: verdict[1] };
  } catch (error) {
    if (!isNotFound(error)) throw error;
    return { step: step.stepNumber, target: name, healthy: false, detail: 'does not exist' };
  }
}

export interface AlertSource {
  /** Alerts that started after `since` (epoch ms) and concern `namespaces`; null when unknown. */
  newAlertsSince(since: number, namespaces: string[]): Promise<boolean | null>;
}

/** Alertmanager's v2 API: any active alert in the namespaces that started after the execution began. */
export function alertmanagerSource(baseUrl: string): AlertSource {
  return {
    async newAlertsSince(since, namespaces) {
      try {
        const response = await fetch(
          `${baseUrl.replace(/\/$/, '')}/api/v2/alerts?active=true&silenced=false&inhibited=false`,
          {
            signal: AbortSignal.timeout(5000),
          },
        );
        if (!response.ok) return null;
        const alerts = (await response.json()) as { startsAt?: string; labels?: Record<string, string> }[];
        return alerts.some(
          (a) =>
            Date.parse(a.startsAt ?? '') > since &&
            (namespaces.length === 0 || namespaces.includes(a.labels?.['namespace'] ?? '')),
        );
      } catch {
        return null;
      }
    },
  };
}

export interface EffectivenessReport extends EffectivenessObservation {
  verdicts: TargetVerdict[];
}

export async function checkEffectiveness(
  client: KubeClient,
  spec: ResolvedSpec,
  succeededSteps: ReadonlySet<number>,
  alerts: AlertSource | undefined,
  executionStartedAt: number,
): Promise<EffectivenessReport> {
  const verdicts: TargetVerdict[] = [];
  for (const step of spec.workflowDefinition.steps) {
    if (!succeededSteps.has(step.stepNumber)) continue;
    const verdict = await verdictOf(client, step);
    if (verdict) verdicts.push(verdict);
  }
  const healthyCount = verdicts.filter((v) => v.healthy).length;
  const score = verdicts.length === 0 ? 1 : healthyCount / verdicts.length;
  const resourceHealth: ResourceHealth =
    verdicts.length === 0
      ? 'unknown'
      : healthyCount === verdicts.length
        ? 'healthy'
        : healthyCount === 0
          ? 'unhealthy'
          : 'degraded';
  const namespaces = [
    ...new Set(spec.workflowDefinition.steps.flatMap((s) => targetOf(s)?.namespace ?? []).filter(Boolean)),
  ];
  const newAlertsTriggered = alerts ? await alerts.newAlertsSince(executionStartedAt, namespaces) : null;
  return {
    effective: healthyCount === verdicts.length && newAlertsTriggered !== true,
    score: Math.round(score * 1000) / 1000,
    resourceHealth,
    newAlertsTriggered,
    verdicts,
  };
}
