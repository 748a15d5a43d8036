// Fake nodes that kwok manages (annotation selector), so the scheduler can place pods and kwok
// marks them Running and Ready: Deployments then report available replicas without a kubelet.
import { setTimeout as sleep } from 'node:timers/promises';

import {
  CoreV1Api,
  KubernetesObjectApi,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';

export const KWOK_NODE_ANNOTATION = 'kwok.x-k8s.io/node';
export const KWOK_NODE_SELECTOR = `${KWOK_NODE_ANNOTATION}=fake`;

/** A plain object (the generated V1Node is a class, and a literal is not an instance of it). */
interface FakeNode {
  apiVersion: string;
  kind: string;
  metadata: { name: string; annotations: Record<string, string>; labels: Record<string, string> };
  status: { allocatable: Record<string, string>; capacity: Record<string, string> };
}

function fakeNode(name: string): FakeNode {
  const resources = { cpu: '32', memory: '256Gi', pods: '110' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { [KWOK_NODE_ANNOTATION]: 'fake' },
      labels: { type: 'kwok', 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux' },
    },
    // Capacity given at creation (the apiserver keeps a new node's status); kwok's node-initialize
    // stage then adds the conditions.
    status: { allocatable: resources, capacity: resources },
  };
}

export async function createFakeNodes(kc: KubeConfig, count: number): Promise<string[]> {
  const client = KubernetesObjectApi.makeApiClient(kc);
  const names = Array.from({ length: count }, (_, i) => `kwok-node-${i}`);
  await Promise.all(names.map((name) => client.create<KubernetesObject>(fakeNode(name))));
  return names;
}

export async function waitForNodesReady(
  kc: KubeConfig,
  names: readonly string[],
  timeoutMs: number,
  check: () => Promise<void>,
): Promise<void> {
  const api = kc.makeApiClient(CoreV1Api);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await check();
    const nodes = await api.listNode();
    const ready = new Set(
      nodes.items
        .filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true)
        .map((n) => n.metadata?.name),
    );
    if (names.every((n) => ready.has(n))) return;
    if (Date.now() > deadline) throw new Error(`kwok nodes not Ready after ${timeoutMs} ms`);
    await sleep(200);
  }
}
