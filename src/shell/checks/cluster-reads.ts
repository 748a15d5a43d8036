/**
 * The cluster objects the health, capacity and network checks read, typed to the fields they use.
 */
import type { Resources } from '../../core/quantity.ts';
import { addResources, NO_RESOURCES, resourcesOf, subtractResources } from '../../core/quantity.ts';
import type { KubeClient } from '../kube/client.ts';
import { NODES, PODS, resourcePath } from '../kube/resources.ts';

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface Container {
  resources?: { requests?: Record<string, string> };
}

export interface PodSpec {
  nodeName?: string;
  containers: Container[];
  initContainers?: Container[];
}

export interface Pod {
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    deletionTimestamp?: string;
    ownerReferences?: { kind: string; name: string; controller?: boolean }[];
    annotations?: Record<string, string>;
  };
  spec: PodSpec;
  status?: { phase?: string; conditions?: Condition[] };
}

export interface Node {
  metadata: { name: string; deletionTimestamp?: string };
  spec?: { unschedulable?: boolean };
  status?: { allocatable?: Record<string, string>; conditions?: Condition[] };
}

export interface Deployment {
  metadata: { name: string; namespace?: string; generation?: number; deletionTimestamp?: string };
  spec?: {
    replicas?: number;
    selector?: { matchLabels?: Record<string, string> };
    template?: { metadata?: { labels?: Record<string, string> }; spec?: PodSpec };
  };
  status?: { observedGeneration?: number; availableReplicas?: number; conditions?: Condition[] };
}

export const conditionOf = (conditions: Condition[] | undefined, type: string): Condition | undefined =>
  conditions?.find((c) => c.type === type);

export const isReady = (node: Node): boolean =>
  conditionOf(node.status?.conditions, 'Ready')?.status === 'True';

/** A pod's requests as the scheduler counts them: the containers' sum, or the largest init container. */
export function podRequests(spec: PodSpec | undefined): Resources {
  const sum = (spec?.containers ?? []).reduce(
    (total, c) => addResources(total, resourcesOf(c.resources?.requests)),
    NO_RESOURCES,
  );
  const init = (spec?.initContainers ?? []).map((c) => resourcesOf(c.resources?.requests));
  return {
    cpu: Math.max(sum.cpu, ...init.map((r) => r.cpu)),
    memory: Math.max(sum.memory, ...init.map((r) => r.memory)),
    pods: 1,
  };
}

export const isDaemonSetPod = (pod: Pod): boolean =>
  pod.metadata.ownerReferences?.some((o) => o.kind === 'DaemonSet' && o.controller === true) ?? false;

const isTerminal = (pod: Pod): boolean => pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';

export interface NodeRoom {
  name: string;
  free: Resources;
}

/** Schedulable, Ready nodes with what their pods leave free of their allocatable. */
export async function schedulableRoom(client: KubeClient): Promise<{ rooms: NodeRoom[]; pods: Pod[] }> {
  const [nodes, pods] = await Promise.all([
    client.request<{ items: Node[] }>(resourcePath(NODES)),
    client.request<{ items: Pod[] }>(resourcePath(PODS), {
      query: { fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed' },
    }),
  ]);
  const live = pods.items.filter((p) => !isTerminal(p));
  const rooms = nodes.items
    .filter((n) => !n.spec?.unschedulable && !n.metadata.deletionTimestamp && isReady(n))
    .map((n) => {
      const allocatable = resourcesOf(
        n.status?.allocatable,
        Number(n.status?.allocatable?.['pods'] ?? '110'),
      );
      const used = live
        .filter((p) => p.spec.nodeName === n.metadata.name)
        .reduce((total, p) => addResources(total, podRequests(p.spec)), NO_RESOURCES);
      return { name: n.metadata.name, free: subtractResources(allocatable, used) };
    });
  return { rooms, pods: live };
}

/** Whether `labels` carries every pair of `selector` (a Service's or a PDB's matchLabels). */
export const matches = (
  selector: Record<string, string> | undefined,
  labels: Record<string, string> | undefined,
) =>
  selector !== undefined &&
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);
