// What the deploy tests' workflows act on: a Deployment whose pods really run in the real node's
// containerd (the operator image of this commit, serving HTTP with node, so the node needs no other
// image), the restart-deployment step, and the state of the world a `kubectl rollout restart` leaves.
import type { WorkflowStep } from '../../src/api/generated/types.ts';
import type { KubeClient } from '../../src/shell/kube/client.ts';
import { DEPLOYMENTS, resourcePath } from '../../src/shell/kube/resources.ts';
import { until } from '../support/cluster.ts';
import { isReady, type Pod } from './support.ts';

export const WORKLOAD = 'web';
const LABELS = { app: WORKLOAD };

/** Serves 200 on :8080; exits at once on SIGTERM (node as PID 1 would otherwise ignore it). */
const SERVER = [
  "const s = require('node:http').createServer((_, res) => res.end('ok')).listen(8080);",
  "process.on('SIGTERM', () => s.close(() => process.exit(0)));",
].join(' ');

export interface Deployment {
  metadata: { generation?: number };
  spec: { replicas?: number; template: { metadata?: { annotations?: Record<string, string> } } };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    conditions?: { type: string; status: string; reason?: string }[];
  };
}

/** `kubectl rollout status`'s test: the latest generation observed, every replica updated and available. */
export function rolledOut(d: Deployment): boolean {
  const want = d.spec.replicas ?? 1;
  const s = d.status ?? {};
  return (
    (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0) &&
    s.updatedReplicas === want &&
    s.replicas === want &&
    s.availableReplicas === want
  );
}

export const workloadPods = async (client: KubeClient, namespace: string): Promise<Pod[]> =>
  (
    await client.request<{ items: Pod[] }>(`/api/v1/namespaces/${namespace}/pods`, {
      query: { labelSelector: `app=${WORKLOAD}` },
    })
  ).items;

export const workload = (client: KubeClient, namespace: string): Promise<Deployment> =>
  client.request<Deployment>(resourcePath(DEPLOYMENTS, namespace, WORKLOAD));

/**
 * Creates the Deployment `web` of `replicas` pods running `image` (restricted Pod Security) and
 * waits until it is rolled out with exactly `replicas` Ready pods, which it returns.
 */
export async function createWorkload(
  client: KubeClient,
  namespace: string,
  image: string,
  replicas: number,
): Promise<Pod[]> {
  await client.request(resourcePath(DEPLOYMENTS, namespace), {
    body: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: WORKLOAD, namespace },
      spec: {
        replicas,
        selector: { matchLabels: LABELS },
        template: {
          metadata: { labels: LABELS },
          spec: {
            securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
            terminationGracePeriodSeconds: 5,
            containers: [
              {
                name: WORKLOAD,
                image,
                command: ['/usr/local/bin/node', '-e', SERVER],
                ports: [{ name: 'http', containerPort: 8080 }],
                readinessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 1 },
                resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '128Mi' } },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ['ALL'] },
                },
              },
            ],
          },
        },
      },
    },
  });
  return settledPods(client, namespace, replicas);
}

/** Until the workload is rolled out and exactly `replicas` pods exist, all Ready (none terminating). */
export async function settledPods(client: KubeClient, namespace: string, replicas: number): Promise<Pod[]> {
  return until(
    `${namespace}/${WORKLOAD} rolled out with ${String(replicas)} Ready pods and no other`,
    async () => {
      if (!rolledOut(await workload(client, namespace))) return undefined;
      const pods = await workloadPods(client, namespace);
      return pods.length === replicas && pods.every(isReady) ? pods : undefined;
    },
    180_000,
    250,
  );
}

/** `kubectl rollout restart deployment/web -n namespace` as a workflow step. */
export const restartStep = (stepNumber: number, namespace: string): WorkflowStep => ({
  stepNumber,
  name: `restart-web-${String(stepNumber)}`,
  action: 'restart-deployment',
  parameters: { restartDeployment: { namespace, deployment: WORKLOAD } },
});
