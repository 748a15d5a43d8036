/**
 * Carrying out actions against the real apiserver as the executor does, one child at a time: the
 * child is created (so a rollback finds its step child by labels, as the executor does), the
 * handler runs with an ActionContext like the executor's, and the outcome is written to the child's
 * status. Plus the workload helpers the action tests share: Deployments, a kwok node of their own.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type {
  KubernetesExecution,
  KubernetesExecutionSpec,
  KubernetesExecutionStatus,
  WorkflowExecution,
} from '../../../src/api/generated/types.ts';
import { HANDLERS } from '../../../src/executor/actions/index.ts';
import { ActionError, type ActionContext } from '../../../src/executor/context.ts';
import { LABELS } from '../../../src/shell/children.ts';
import { ApiError, type KubeClient, type RequestInit } from '../../../src/shell/kube/client.ts';
import {
  KUBERNETES_EXECUTIONS,
  WORKFLOW_EXECUTIONS,
  resourcePath,
} from '../../../src/shell/kube/resources.ts';
import { KWOK_NODE_ANNOTATION } from '../../../tooling/controlplane/nodes.ts';
import { customStep, specWith } from '../../fixtures/specs.ts';

export interface Ran {
  child: KubernetesExecution;
  status: KubernetesExecutionStatus;
}

export type ChildSpec = Pick<KubernetesExecutionSpec, 'action' | 'parameters' | 'rollbackParameters'> & {
  kind?: KubernetesExecutionSpec['kind'];
  stepNumber?: number;
  attempt?: number;
  timeout?: string;
};

/** A workflow to own the children (never reconciled: no operator runs here). */
export async function createWorkflow(
  client: KubeClient,
  namespace: string,
  name: string,
): Promise<WorkflowExecution> {
  return client.request<WorkflowExecution>(resourcePath(WORKFLOW_EXECUTIONS, namespace), {
    body: {
      apiVersion: 'workflowexecution.kubernaut.io/v1',
      kind: 'WorkflowExecution',
      metadata: { name },
      spec: specWith([customStep(1)]),
    },
  });
}

function describeError(error: unknown): string {
  if (error instanceof ActionError) return error.message;
  if (error instanceof ApiError) return `${error.reason}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

export interface RunOptions {
  signal?: AbortSignal;
  executorNamespace?: string;
}

/** Creates the workflow's child, labelled as the operator labels them, for a handler or an executor. */
export async function createChild(
  client: KubeClient,
  workflow: WorkflowExecution,
  spec: ChildSpec,
): Promise<KubernetesExecution> {
  const namespace = workflow.metadata.namespace ?? '';
  const uid = workflow.metadata.uid ?? '';
  const kind = spec.kind ?? 'step';
  const stepNumber = spec.stepNumber ?? 1;
  const attempt = spec.attempt ?? 1;
  const name = `${workflow.metadata.name ?? ''}-${kind === 'rollback' ? 'rollback' : kind === 'dryRun' ? 'dryrun' : 'step'}-${stepNumber}-a${attempt}-${randomUUID().slice(0, 4)}`;
  return client.request<KubernetesExecution>(resourcePath(KUBERNETES_EXECUTIONS, namespace), {
    body: {
      apiVersion: 'kubernetesexecution.kubernaut.io/v1',
      kind: 'KubernetesExecution',
      metadata: {
        name,
        labels: {
          [LABELS.workflowUid]: uid,
          [LABELS.kind]: kind,
          [LABELS.step]: String(stepNumber),
          [LABELS.attempt]: String(attempt),
        },
      },
      spec: {
        workflowExecutionRef: { name: workflow.metadata.name ?? '', namespace, uid },
        kind,
        stepNumber,
        attempt,
        action: spec.action,
        ...(spec.parameters ? { parameters: spec.parameters } : {}),
        ...(spec.rollbackParameters ? { rollbackParameters: spec.rollbackParameters } : {}),
        timeout: spec.timeout ?? '2m',
      },
    },
  });
}

/** Creates the child, carries it out, records the outcome in its status; returns both. */
export async function runChild(
  client: KubeClient,
  workflow: WorkflowExecution,
  spec: ChildSpec,
  options: RunOptions = {},
): Promise<Ran> {
  const namespace = workflow.metadata.namespace ?? '';
  const uid = workflow.metadata.uid ?? '';
  const stepNumber = spec.stepNumber ?? 1;
  const child = await createChild(client, workflow, spec);
  const name = child.metadata.name ?? '';
  const dryRun = spec.kind === 'dryRun';
  const ctx: ActionContext = {
    child,
    dryRun,
    // The attempt's deadline: a wait that never ends fails saying what it was waiting for.
    signal: options.signal ?? AbortSignal.timeout(60_000),
    client,
    ...(options.executorNamespace ? { executorNamespace: options.executorNamespace } : {}),
    request<T>(path: string, init: RequestInit = {}): Promise<T> {
      const write = (init.method ?? (init.body === undefined ? 'GET' : 'POST')) !== 'GET';
      return client.request<T>(
        path,
        dryRun && write ? { ...init, query: { ...init.query, dryRun: 'All' } } : init,
      );
    },
    async stepChild() {
      const list = await client.request<{ items: KubernetesExecution[] }>(
        resourcePath(KUBERNETES_EXECUTIONS, namespace),
        {
          query: {
            labelSelector: `${LABELS.workflowUid}=${uid},${LABELS.kind}=step,${LABELS.step}=${stepNumber}`,
          },
        },
      );
      return list.items
        .filter((c) => c.status?.phase === 'completed')
        .sort((a, b) => b.spec.attempt - a.spec.attempt)[0];
    },
  };
  let status: KubernetesExecutionStatus;
  try {
    const outcome = await HANDLERS[spec.action](ctx);
    status = {
      phase: 'completed',
      message: outcome.message,
      ...(outcome.result ? { executionResult: outcome.result } : {}),
    };
  } catch (error) {
    status = { phase: 'failed', message: describeError(error), executionResult: { success: false } };
  }
  await client.request(resourcePath(KUBERNETES_EXECUTIONS, namespace, name, 'status'), {
    method: 'PATCH',
    patchType: 'merge',
    body: { status },
  });
  return { child, status };
}

export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${String(last)}`);
    await sleep(200);
  }
}

export interface PodLike {
  metadata: { name: string; uid: string; deletionTimestamp?: string; ownerReferences?: { kind: string }[] };
  spec: { nodeName?: string; unschedulable?: boolean };
  status?: { phase?: string; conditions?: { type: string; status: string }[] };
}

export const ready = (pod: PodLike): boolean =>
  pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

export async function pods(client: KubeClient, namespace: string, selector?: string): Promise<PodLike[]> {
  const list = await client.request<{ items: PodLike[] }>(`/api/v1/namespaces/${namespace}/pods`, {
    query: selector ? { labelSelector: selector } : {},
  });
  return list.items;
}

/** A node of the test's own, which kwok runs, tainted so only pods that tolerate it land there. */
export const DRAIN_TAINT = 'kubernaut.io/executor-test';
export async function createOwnNode(client: KubeClient): Promise<string> {
  const name = `kwok-exec-${randomUUID().slice(0, 6)}`;
  const resources = { cpu: '32', memory: '256Gi', pods: '110' };
  await client.request('/api/v1/nodes', {
    body: {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        annotations: { [KWOK_NODE_ANNOTATION]: 'fake' },
        labels: { type: 'kwok', 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux' },
      },
      spec: { taints: [{ key: DRAIN_TAINT, value: 'true', effect: 'NoSchedule' }] },
      status: { allocatable: resources, capacity: resources },
    },
  });
  await eventually(`node ${name} Ready`, async () => {
    const node = await client.request<{ status?: { conditions?: { type: string; status: string }[] } }>(
      `/api/v1/nodes/${name}`,
    );
    return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? true : undefined;
  });
  return name;
}

/** Pod template pieces that put a pod on the test's own node. */
export const onNode = (node: string) => ({
  nodeSelector: { 'kubernetes.io/hostname': node },
  tolerations: [{ key: DRAIN_TAINT, operator: 'Exists', effect: 'NoSchedule' }],
});

export async function createDeployment(
  client: KubeClient,
  namespace: string,
  name: string,
  replicas: number,
  podSpec: Record<string, unknown> = {},
  kind: 'Deployment' | 'ReplicaSet' = 'Deployment',
): Promise<void> {
  await client.request(`/apis/apps/v1/namespaces/${namespace}/${kind.toLowerCase()}s`, {
    body: {
      apiVersion: 'apps/v1',
      kind,
      metadata: { name },
      spec: {
        replicas,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: { containers: [{ name: 'app', image: 'nginx:1' }], ...podSpec },
        },
      },
    },
  });
}

export interface DeploymentLike {
  metadata: { generation: number; annotations?: Record<string, string> };
  spec: {
    replicas: number;
    template: {
      metadata?: { annotations?: Record<string, string> };
      spec: { containers: { image: string }[] };
    };
  };
  status?: {
    observedGeneration?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    replicas?: number;
  };
}

export const getDeployment = (client: KubeClient, namespace: string, name: string): Promise<DeploymentLike> =>
  client.request<DeploymentLike>(`/apis/apps/v1/namespaces/${namespace}/deployments/${name}`);

export async function waitAvailable(
  client: KubeClient,
  namespace: string,
  name: string,
  replicas: number,
): Promise<void> {
  await eventually(`deployment ${name} with ${replicas} available`, async () => {
    const d = await getDeployment(client, namespace, name);
    return d.status?.availableReplicas === replicas && d.status.updatedReplicas === replicas
      ? true
      : undefined;
  });
}
