/**
 * The `capacity` check, as an SRE means it:
 * - a scale-up: the added replicas' requests fit the room left on schedulable, Ready nodes, and every
 *   ResourceQuota of the namespace still holds (requests.cpu, requests.memory, cpu, memory, pods);
 * - a cordon or drain: the node's pods (not DaemonSet pods) fit on the other schedulable nodes, and
 *   for a drain every PodDisruptionBudget covering them allows that many evictions.
 * A scale-down or a step that changes no capacity is not weighed; with none, not_applicable.
 */
import type { ResolvedSpec } from '../../api/resolved-spec.ts';
import type { WorkflowStep } from '../../api/generated/types.ts';
import { fitsOnNodes, parseQuantity, type Resources } from '../../core/quantity.ts';
import { isNotFound, type KubeClient } from '../kube/client.ts';
import { DEPLOYMENTS, core, resourcePath, type ResourceType } from '../kube/resources.ts';
import {
  isDaemonSetPod,
  matches,
  podRequests,
  schedulableRoom,
  type Deployment,
  type NodeRoom,
  type Pod,
} from './cluster-reads.ts';
import { verdictOf, type CheckVerdict } from './verdict.ts';

const RESOURCE_QUOTAS = core('resourcequotas', 'ResourceQuota');
const PDBS: ResourceType = {
  group: 'policy',
  version: 'v1',
  plural: 'poddisruptionbudgets',
  kind: 'PodDisruptionBudget',
  namespaced: true,
};

interface Quota {
  metadata: { name: string };
  status?: { hard?: Record<string, string>; used?: Record<string, string> };
}
interface Pdb {
  metadata: { name: string; namespace?: string };
  spec?: { selector?: { matchLabels?: Record<string, string> } };
  status?: { disruptionsAllowed?: number };
}

const QUOTA_KEYS: Record<string, keyof Resources> = {
  'requests.cpu': 'cpu',
  cpu: 'cpu',
  'requests.memory': 'memory',
  memory: 'memory',
  pods: 'pods',
};

async function scaleUpProblems(client: KubeClient, step: WorkflowStep, rooms: NodeRoom[]): Promise<string[]> {
  const p = step.parameters.scaleDeployment;
  if (!p) return [];
  let d: Deployment;
  try {
    d = await client.request<Deployment>(resourcePath(DEPLOYMENTS, p.namespace, p.deployment));
  } catch (error) {
    if (isNotFound(error)) return []; // the health check names a missing target
    throw error;
  }
  const added = p.replicas - (d.spec?.replicas ?? 1);
  if (added <= 0) return [];
  const each = podRequests(d.spec?.template?.spec);
  const where = `step ${step.stepNumber}: scaling Deployment ${p.namespace}/${p.deployment} up by ${added}`;
  const problems: string[] = [];
  if (
    !fitsOnNodes(
      Array.from({ length: added }, () => each),
      rooms.map((r) => r.free),
    )
  )
    problems.push(
      `${where} (${each.cpu} cpu, ${each.memory} bytes each) does not fit the room left on ${rooms.length} schedulable node(s)`,
    );
  const quotas = await client.request<{ items: Quota[] }>(resourcePath(RESOURCE_QUOTAS, p.namespace));
  for (const q of quotas.items)
    for (const [key, hardText] of Object.entries(q.status?.hard ?? {})) {
      const field = QUOTA_KEYS[key];
      const hard = parseQuantity(hardText);
      if (field === undefined || hard === null) continue;
      const used = parseQuantity(q.status?.used?.[key]) ?? 0;
      const wanted = used + added * each[field];
      if (wanted > hard + 1e-9)
        problems.push(`${where} exceeds ResourceQuota ${q.metadata.name} ${key}: ${wanted} of ${hard}`);
    }
  return problems;
}

async function nodeProblems(
  client: KubeClient,
  step: WorkflowStep,
  rooms: NodeRoom[],
  pods: Pod[],
): Promise<string[]> {
  const nodeName = step.parameters.cordonNode?.nodeName ?? step.parameters.drainNode?.nodeName;
  if (nodeName === undefined) return [];
  const draining = step.parameters.drainNode !== undefined;
  const verb = draining ? 'draining' : 'cordoning';
  const onNode = pods.filter((p) => p.spec.nodeName === nodeName && !isDaemonSetPod(p));
  const others = rooms.filter((r) => r.name !== nodeName);
  const problems: string[] = [];
  if (
    !fitsOnNodes(
      onNode.map((p) => podRequests(p.spec)),
      others.map((r) => r.free),
    )
  )
    problems.push(
      `step ${step.stepNumber}: ${verb} Node ${nodeName} leaves too little schedulable room for its ${onNode.length} pod(s) on ${others.length} other node(s)`,
    );
  if (draining) {
    const namespaces = [...new Set(onNode.map((p) => p.metadata.namespace ?? ''))];
    const budgets = (
      await Promise.all(
        namespaces.map((ns) => client.request<{ items: Pdb[] }>(resourcePath(PDBS, ns)).then((l) => l.items)),
      )
    ).flat();
    for (const pdb of budgets) {
      const evicted = onNode.filter(
        (p) =>
          p.metadata.namespace === pdb.metadata.namespace &&
          matches(pdb.spec?.selector?.matchLabels, p.metadata.labels),
      ).length;
      const allowed = pdb.status?.disruptionsAllowed ?? 0;
      if (evicted > allowed)
        problems.push(
          `step ${step.stepNumber}: draining Node ${nodeName} evicts ${evicted} pod(s) of PodDisruptionBudget ${pdb.metadata.namespace ?? ''}/${pdb.metadata.name}, which allows ${allowed}`,
        );
    }
  }
  return problems;
}

export async function capacityCheck(client: KubeClient, spec: ResolvedSpec): Promise<CheckVerdict> {
  const steps = spec.workflowDefinition.steps.filter(
    (s) => s.parameters.scaleDeployment || s.parameters.cordonNode || s.parameters.drainNode,
  );
  if (steps.length === 0)
    return { result: 'not_applicable', message: 'no step scales a Deployment or takes a Node out' };
  const { rooms, pods } = await schedulableRoom(client);
  const problems = (
    await Promise.all(
      steps.map(async (s) => [
        ...(await scaleUpProblems(client, s, rooms)),
        ...(await nodeProblems(client, s, rooms, pods)),
      ]),
    )
  ).flat();
  return verdictOf(
    problems,
    `${steps.length} capacity-affecting step(s) fit: ${rooms.length} schedulable node(s), quotas and disruption budgets allow them`,
  );
}
